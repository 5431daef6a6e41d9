"""basicsr/utils/threads.py: thread and dataloader-worker counts derived from the cores, ranks and workers."""
import logging

import torch

from basicsr.utils import threads


def test_counts_follow_cores_ranks_and_workers(monkeypatch, caplog):
    monkeypatch.setattr(threads, 'available_cores', lambda: 8)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    monkeypatch.delenv('SLURM_NTASKS_PER_NODE', raising=False)
    logger = logging.getLogger('test_threads')
    with caplog.at_level(logging.INFO, logger='test_threads'):
        assert threads.cap_dataloader_workers(6, logger=logger) == 6
        assert threads.cap_dataloader_workers(6, ranks=4, logger=logger) == 2  # 8 cores shared by 4 ranks
        assert threads.cap_dataloader_workers(0, ranks=4) == 0
    assert caplog.messages == ['num_worker_per_gpu: 6 dataloader workers asked for, 2 used (8 cores shared by 4 '
                               'ranks).']
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    assert threads.intra_op_threads(workers_per_rank=2) == 2  # 8 / 2 ranks - 2 workers
    assert threads.intra_op_threads(ranks=8, workers_per_rank=2) == 1  # never below 1


def test_set_thread_defaults_sets_torch_unless_the_user_chose(monkeypatch, caplog):
    monkeypatch.setattr(threads, 'available_cores', lambda: 2)
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
        with caplog.at_level(logging.INFO, logger='test_threads'):
            assert threads.set_thread_defaults(2, ranks=1, logger=logging.getLogger('test_threads')) == 1
        assert torch.get_num_threads() == 1
        assert 'CPU threads: 1 intra-op per process (2 cores / 1 rank(s) - 2 dataloader worker(s)' in caplog.text
        monkeypatch.setenv('OMP_NUM_THREADS', '3')
        torch.set_num_threads(3)
        assert threads.set_thread_defaults(2, ranks=1) == 3
    finally:
        torch.set_num_threads(before)
