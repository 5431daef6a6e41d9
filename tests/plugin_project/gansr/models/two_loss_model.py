# A plug-in model that subclasses SRModel and sets up its own losses from train.l1_opt and train.l2_opt (keys
# basicsr's SRModel does not know), as research repositories do. It declares no option keys.
from collections import OrderedDict

from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class TwoLossModel(SRModel):

    def init_training_settings(self):
        self.net_g.train()
        train_opt = self.opt['train']
        self.cri_l1 = build_loss(train_opt['l1_opt']).to(self.device)
        self.cri_l2 = build_loss(train_opt['l2_opt']).to(self.device)
        self.setup_optimizers()
        self.setup_schedulers()

    def optimize_parameters(self, current_iter):
        self.optimizer_g.zero_grad()
        self.output = self.net_g(self.lq)
        l_l1 = self.cri_l1(self.output, self.gt)
        l_l2 = self.cri_l2(self.output, self.gt)
        (l_l1 + l_l2).backward()
        self.optimizer_g.step()
        self.log_dict = self.reduce_loss_dict(OrderedDict(l_l1=l_l1, l_l2=l_l2))
