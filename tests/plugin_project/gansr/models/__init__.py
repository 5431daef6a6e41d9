from .two_loss_model import TwoLossModel  # noqa: F401
