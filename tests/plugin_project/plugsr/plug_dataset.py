from torch.utils import data as data

from basicsr.data.data_util import paired_paths_from_folder
from basicsr.data.transforms import augment, paired_random_crop
from basicsr.utils import FileClient, imfrombytes, img2tensor
from basicsr.utils.registry import DATASET_REGISTRY

__all__ = ['PlugPairedDataset']


@DATASET_REGISTRY.register()
class PlugPairedDataset(data.Dataset):
    """A paired dataset written as BasicSR plug-ins write them: one ``opt`` dict, a lazily opened FileClient."""

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.file_client = None
        self.io_backend_opt = opt['io_backend']
        self.gt_folder, self.lq_folder = opt['dataroot_gt'], opt['dataroot_lq']
        self.paths = paired_paths_from_folder([self.lq_folder, self.gt_folder], ['lq', 'gt'], '{}')

    def __getitem__(self, index):
        if self.file_client is None:
            self.file_client = FileClient(self.io_backend_opt.pop('type'), **self.io_backend_opt)
        scale = self.opt['scale']
        gt_path = self.paths[index]['gt_path']
        img_gt = imfrombytes(self.file_client.get(gt_path, 'gt'), float32=True)
        lq_path = self.paths[index]['lq_path']
        img_lq = imfrombytes(self.file_client.get(lq_path, 'lq'), float32=True)
        if self.opt['phase'] == 'train':
            img_gt, img_lq = paired_random_crop(img_gt, img_lq, self.opt['gt_size'], scale, gt_path)
            img_gt, img_lq = augment([img_gt, img_lq], self.opt['use_hflip'], self.opt['use_rot'])
        img_gt, img_lq = img2tensor([img_gt, img_lq], bgr2rgb=True, float32=True)
        return {'lq': img_lq, 'gt': img_gt, 'lq_path': lq_path, 'gt_path': gt_path}

    def __len__(self):
        return len(self.paths)
