"""``model_type: SwinIRModel``, the recipe BasicSR's SwinIR option files name."""
from basicsr.models.sr_model import SRModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class SwinIRModel(SRModel):
    """SRModel under BasicSR's name for SwinIR training. BasicSR's ``SwinIRModel.test`` pads the input to a
    multiple of ``network_g.window_size`` and crops the output; here every model does that for any network that
    declares an ``input_multiple`` (:func:`basicsr.models.inference.super_resolve`), so nothing else differs."""
