"""Tests for labkit.splat, the reader for real lockdep reports.

The expectations below were read off each report in ``data/splats/`` by hand;
``data/splats/SOURCES.md`` says where each report comes from. Variants
(timestamps, quoting, re-wrapping, CRLF, ...) are made by transforming those
real files, never by writing reports from scratch; the few snippets that are
constructed are marked CONSTRUCTED.
"""
from __future__ import annotations

import doctest
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit.splat as splat_mod
from labkit.errors import LabError
from labkit.splat import KINDS, Splat, SplatError, parse, parse_all, parse_file

SPLATS = Path(__file__).resolve().parent.parent / "data" / "splats"


def read(name: str) -> str:
    return (SPLATS / name).read_text(encoding="utf-8")


# --- expected values, one entry per data file ----------------------------------

EXPECTED = {
    "mm_iommu.txt": {
        "kind": "circular",
        "title": "possible circular locking dependency detected",
        "task_comm": "qemu-system-ppc/8038",
        "acquiring_lock": "mem_list_mutex",
        "held_lock": "&mm->mmap_sem",
        "chain": ["&mm->mmap_sem", "mem_list_mutex"],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(&mm->mmap_sem)"], ["CPU1", "lock(mem_list_mutex)"],
                     ["CPU1", "lock(&mm->mmap_sem)"], ["CPU0", "lock(mem_list_mutex)"]],
        "locks_held_count": 1,
        "locks_held": ["&mm->mmap_sem"],
        "kernel": "5.1.0-rc2-le_nv2_aikATfstn1-p1 #363 Not tainted",
    },
    "iommufd.txt": {
        "kind": "circular",
        "title": "possible circular locking dependency detected",
        "task_comm": "iommufd/404",
        "acquiring_lock": "&staccess->lock",
        "held_lock": "&obj->destroy_rwsem",
        "chain": ["&obj->destroy_rwsem", "&staccess->lock"],
        "chain_exists_of": [],
        "scenario": [],
        "locks_held_count": None,
        "locks_held": [],
        "kernel": "6.1.0-rc7+ #156 Not tainted",
    },
    "kvm_vfio.txt": {
        "kind": "circular",
        "title": "possible circular locking dependency detected",
        "task_comm": "CPU 0/KVM/1173",
        "acquiring_lock": "&group->group_lock",
        "held_lock": "&kvm->lock",
        "chain": ["&kvm->lock", "&matrix_dev->guests_lock", "&new_dev_set->lock", "&group->group_lock"],
        "chain_exists_of": ["&group->group_lock", "&matrix_dev->guests_lock", "&kvm->lock"],
        "scenario": [["CPU0", "lock(&kvm->lock)"], ["CPU1", "lock(&matrix_dev->guests_lock)"],
                     ["CPU1", "lock(&kvm->lock)"], ["CPU0", "lock(&group->group_lock)"]],
        "locks_held_count": 1,
        "locks_held": ["&kvm->lock"],
        "kernel": "6.2.0-rc6-00057-g41c03ba9beea-dirty #18 Not tainted",
    },
    "nilfs_syzbot.txt": {
        "kind": "circular",
        "title": "possible circular locking dependency detected",
        "task_comm": "syz-executor408/3031",
        "acquiring_lock": "&dat_lock_key",
        "held_lock": "&nilfs->ns_sem",
        "chain": ["&nilfs->ns_sem", "&dat_lock_key"],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(&nilfs->ns_sem)"], ["CPU1", "lock(&dat_lock_key)"],
                     ["CPU1", "lock(&nilfs->ns_sem)"], ["CPU0", "lock(&dat_lock_key)"]],
        "locks_held_count": 2,
        "locks_held": ["&type->s_umount_key#41", "&nilfs->ns_sem"],
        "kernel": "6.0.0-rc7-syzkaller-18095-gbbed346d5a96 #0 Not tainted",
    },
    "ksmbd_recursive.txt": {
        "kind": "recursive",
        "title": "possible recursive locking detected",
        "task_comm": "kworker/1:1/32",
        "acquiring_lock": "sb_writers#5",
        "held_lock": "sb_writers#5",
        "chain": [],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(sb_writers#5)"], ["CPU0", "lock(sb_writers#5)"]],
        "locks_held_count": 4,
        "locks_held": ["(wq_completion)ksmbd-io", "(work_completion)(&work->work)", "sb_writers#5",
                       "&type->i_mutex_dir_key#3/1"],
        "kernel": "6.6.0-rc5 #775 Not tainted",
    },
    "rapl_recursive_ci.txt": {
        "kind": "recursive",
        "title": "possible recursive locking detected",
        "task_comm": "cpuhp/0/20",
        "acquiring_lock": "cpu_hotplug_lock",
        "held_lock": "cpu_hotplug_lock",
        "chain": [],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(cpu_hotplug_lock)"], ["CPU0", "lock(cpu_hotplug_lock)"]],
        "locks_held_count": 2,
        "locks_held": ["cpu_hotplug_lock", "cpuhp_state-up"],
        # The mail client broke this line after "Not ".
        "kernel": "6.19.0-rc1-lgci-xe-xe-4242-05b7c58b3367dca84+ #1 Not tainted",
    },
    "zfs_recursive_old_format.txt": {
        "kind": "recursive",
        "title": "possible recursive locking detected",
        "task_comm": "vdev_open/1/8480",
        "acquiring_lock": "&zio->io_lock",
        "held_lock": "&zio->io_lock",
        "chain": [],
        "chain_exists_of": [],
        "scenario": [],  # 2.6.32 printed no scenario table
        "locks_held_count": 1,
        "locks_held": ["&zio->io_lock"],
        "kernel": "2.6.32-220.1chaos.ch5.x86_64.debug #1",
    },
    "fuse_recursive_syslog.txt": {
        "kind": "recursive",
        "title": "possible recursive locking detected",
        "task_comm": "sdcard/149325",
        "acquiring_lock": "&type->i_mutex_dir_key#11",
        "held_lock": "&type->i_mutex_dir_key#11",
        "chain": [],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(&type->i_mutex_dir_key#11)"], ["CPU0", "lock(&type->i_mutex_dir_key#11)"]],
        "locks_held_count": None,
        "locks_held": [],
        "kernel": "5.0.0-2106051013-generic #appstreamdebug Tainted: G OE",
    },
    "mt76_inconsistent.txt": {
        "kind": "inconsistent",
        "title": "inconsistent lock state",
        "task_comm": "rmmod/1227",
        "acquiring_lock": "&dev->lock#2",
        "held_lock": None,
        "chain": [],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(&dev->lock#2)"], ["CPU0", "<Interrupt>"], ["CPU0", "lock(&dev->lock#2)"]],
        "locks_held_count": 1,
        "locks_held": ["&dev->mutex"],
        "kernel": "5.9.0-rc6 #14 Not tainted",
    },
    "cgroup_syzbot_irq_inversion.txt": {
        "kind": "irq_inversion",
        "title": "possible irq lock inversion dependency detected",
        "task_comm": "swapper/0/0",
        "acquiring_lock": "css_set_lock",
        "held_lock": None,
        # The "-> (&sighand->siglock){+.+.}-{2:2} {" blocks are dependency
        # paths, not a numbered chain.
        "chain": [],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(&sighand->siglock)"], ["CPU1", "local_irq_disable()"],
                     ["CPU1", "lock(css_set_lock)"], ["CPU1", "lock(&sighand->siglock)"],
                     ["CPU0", "<Interrupt>"], ["CPU0", "lock(css_set_lock)"]],
        "locks_held_count": 2,
        "locks_held": ["rcu_callback", "put_task_map-wait-type-override"],
        "kernel": "6.7.0-rc1-next-20231116-syzkaller #0 Not tainted",
    },
    "pidfd_irq_inversion_quoted.txt": {
        "kind": "irq_inversion",
        "title": "possible irq lock inversion dependency detected",
        "task_comm": "swapper/1/0",
        "acquiring_lock": "tasklist_lock",
        "held_lock": None,
        "chain": [],
        "chain_exists_of": [],
        "scenario": [["CPU0", "lock(&pid->wait_pidfd)"], ["CPU1", "local_irq_disable()"],
                     ["CPU1", "lock(tasklist_lock)"], ["CPU1", "lock(&pid->wait_pidfd)"],
                     ["CPU0", "<Interrupt>"], ["CPU0", "lock(tasklist_lock)"]],
        "locks_held_count": 4,  # the quote stops before the #k lines
        "locks_held": [],
        "kernel": "5.6.0-syzkaller #0 Not tainted",
    },
    "fasync_syzbot_softirq_safe_unsafe.txt": {
        "kind": "irq_safe_unsafe",
        "title": "SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
        "task_comm": "syz-executor.3/15310",
        "acquiring_lock": "&f->f_owner.lock",
        "held_lock": "&new->fa_lock",
        "chain": [],
        "chain_exists_of": ["fasync_lock", "&new->fa_lock", "&f->f_owner.lock"],
        "scenario": [["CPU0", "lock(&f->f_owner.lock)"], ["CPU1", "local_irq_disable()"],
                     ["CPU1", "lock(fasync_lock)"], ["CPU1", "lock(&new->fa_lock)"],
                     ["CPU0", "<Interrupt>"], ["CPU0", "lock(fasync_lock)"]],
        "locks_held_count": 8,
        # syzbot repeats "#2:", "#5:", "#7:" once per inlined frame.
        "locks_held": ["&evdev->mutex", "&dev->event_lock", "rcu_read_lock", "rcu_read_lock", "rcu_read_lock",
                       "&client->buffer_lock", "rcu_read_lock", "&new->fa_lock"],
        "kernel": "5.11.0-rc2-syzkaller #0 Not tainted",
    },
    "iwlwifi_softirq_safe_unsafe.txt": {
        "kind": "irq_safe_unsafe",
        "title": "SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
        "task_comm": "kworker/3:1/49",
        "acquiring_lock": "&mvm_sta->deflink.lq_sta.rs_drv.pers.lock",
        "held_lock": "&sta->rate_ctrl_lock",
        "chain": [],
        "chain_exists_of": [],
        "scenario": [],
        "locks_held_count": None,
        "locks_held": [],
        "kernel": "6.4.0-rc5 #1 Not tainted",
    },
}
EXPECTED["nfsd_laundromat_syslog_escaped.txt"] = {
    # rsyslog wrote each "\n" inside a kernel record as "#012".
    "kind": "circular",
    "title": "possible circular locking dependency detected",
    "task_comm": "kworker/u2:6/9099",
    "acquiring_lock": "file_rwsem",
    "held_lock": "(work_completion)(&(&nn->laundromat_work)->work)",
    "chain": ["(work_completion)(&(&nn->laundromat_work)->work)", "(wq_completion)nfsd4", "file_rwsem"],
    "chain_exists_of": ["file_rwsem", "(wq_completion)nfsd4", "(work_completion)(&(&nn->laundromat_work)->work)"],
    "scenario": [["CPU0", "lock((work_completion)(&(&nn->laundromat_work)->work))"],
                 ["CPU1", "lock((wq_completion)nfsd4)"],
                 ["CPU1", "lock((work_completion)(&(&nn->laundromat_work)->work))"], ["CPU0", "lock(file_rwsem)"]],
    "locks_held_count": 2,
    "locks_held": ["(wq_completion)nfsd4", "(work_completion)(&(&nn->laundromat_work)->work)"],
    "kernel": "5.18.0-rc4_bf1+ #1 Not tainted",
}
EXPECTED["shm_xfs_syslog_escaped_wrapped.txt"] = {
    # "#012" escapes, and a mail client wrapped the syslog lines at ~72 columns
    # (the title, the version line, lock lines, frames and a scenario row).
    "kind": "circular",
    "title": "possible circular locking dependency detected",
    "task_comm": "httpd/1597",
    "acquiring_lock": "&ids->rwsem",
    "held_lock": "&mm->mmap_sem",
    "chain": ["&mm->mmap_sem", "&xfs_dir_ilock_class", "&isec->lock", "&ids->rwsem"],
    "chain_exists_of": ["&ids->rwsem", "&xfs_dir_ilock_class", "&mm->mmap_sem"],
    "scenario": [["CPU0", "lock(&mm->mmap_sem)"], ["CPU1", "lock(&xfs_dir_ilock_class)"],
                 ["CPU1", "lock(&mm->mmap_sem)"], ["CPU0", "lock(&ids->rwsem)"]],
    "locks_held_count": 1,
    "locks_held": ["&mm->mmap_sem"],
    "kernel": "4.2.0-0.rc3.git0.1.fc24.x86_64+debug #1 Tainted: G W",
}

EXPECTED["leds_libata_hardirq_read_irq_inversion.txt"] = {
    # "HARDIRQ-READ-unsafe": the read form of the irq lines (5.10-rc2).
    "kind": "irq_inversion",
    "title": "possible irq lock inversion dependency detected",
    "task_comm": "swapper/3/0",
    "acquiring_lock": "&host->lock",
    "held_lock": None,
    "chain": [],
    "chain_exists_of": [],
    "scenario": [["CPU0", "lock(&trig->leddev_list_lock)"], ["CPU1", "local_irq_disable()"],
                 ["CPU1", "lock(&host->lock)"], ["CPU1", "lock(&trig->leddev_list_lock)"],
                 ["CPU0", "<Interrupt>"], ["CPU0", "lock(&host->lock)"]],
    "locks_held_count": 0,
    "locks_held": [],
    "kernel": "5.10.0-rc2+ #25 Not tainted",
}
EXPECTED["snd_pcm_syzbot_softirq_read_irq_inversion.txt"] = {
    "kind": "irq_inversion",
    "title": "possible irq lock inversion dependency detected",
    "task_comm": "swapper/0/0",
    "acquiring_lock": "&group->lock",
    "held_lock": None,
    "chain": [],
    "chain_exists_of": [],
    "scenario": [["CPU0", "lock(&card->ctl_files_rwlock)"], ["CPU1", "local_irq_disable()"],
                 ["CPU1", "lock(&group->lock)"], ["CPU1", "lock(&card->ctl_files_rwlock)"],
                 ["CPU0", "<Interrupt>"], ["CPU0", "lock(&group->lock)"]],
    "locks_held_count": 1,
    "locks_held": ["(&dpcm->timer)"],
    "kernel": "5.9.0-syzkaller #0 Not tainted",
}
EXPECTED["xfrm_syzbot_softirq_read_safe_unsafe.txt"] = {
    "kind": "irq_safe_unsafe",
    "title": "SOFTIRQ-READ-safe -> SOFTIRQ-READ-unsafe lock order detected",
    "task_comm": "kworker/0:17/14303",
    "acquiring_lock": "&s->seqcount#11",
    "held_lock": "&s->seqcount#12",
    "chain": [],
    "chain_exists_of": [],
    "scenario": [["CPU0", "lock(&s->seqcount#11)"], ["CPU1", "local_irq_disable()"],
                 ["CPU1", "lock(&s->seqcount#12)"], ["CPU1", "lock(&s->seqcount#11)"],
                 ["CPU0", "<Interrupt>"], ["CPU0", "lock(&s->seqcount#12)"]],
    "locks_held_count": 5,
    "locks_held": ["(wq_completion)events", "(work_completion)(&net->xfrm.policy_hthresh.work)",
                   "hash_resize_mutex", "&net->xfrm.xfrm_policy_lock", "&s->seqcount#12"],
    "kernel": "5.9.0-rc5-next-20200915-syzkaller #0 Not tainted",
}
EXPECTED["mremap_syzbot_bad_unlock.txt"] = {
    "kind": "bad_unlock_balance",
    "title": "bad unlock balance detected!",
    "task_comm": "syz-executor359/6969",
    "acquiring_lock": "&mapping->i_mmap_rwsem",   # the lock it tried to release
    "held_lock": None,
    "chain": [],
    "chain_exists_of": [],
    "scenario": [],
    "locks_held_count": 1,
    "locks_held": ["&mm->mmap_lock"],              # "#0:" four times, once per inlined frame
    "kernel": "6.16.0-rc2-next-20250616-syzkaller #0 Not tainted",
}
EXPECTED["io_uring_invalid_wait_context.txt"] = {
    "kind": "invalid_wait_context",
    "title": "Invalid wait context",
    "task_comm": "kworker/u32:0/68094",
    "acquiring_lock": "&ctx->wqh#2",
    "held_lock": None,
    "chain": [],
    "chain_exists_of": [],
    "scenario": [],
    "locks_held_count": 6,
    "locks_held": ["(wq_completion)iou_exit", "(work_completion)(&ctx->exit_work)", "&ctx->completion_lock",
                   "&ctx->timeout_lock", "rcu_read_lock", "rcu_read_lock"],
    "kernel": "6.13.0-rc4-00080-g9828a4c0901f #29 Not tainted",
}

# The per-kind facts (None where a kind has no such fact, or the report was
# cut before it).
KIND_FACTS = ("usage_transition", "irq_class", "other_lock", "safe_lock", "unsafe_lock", "wait_type",
              "context_wait_type")
FACTS = {
    "mt76_inconsistent.txt": {"usage_transition": "{IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W}", "irq_class": "SOFTIRQ"},
    # "css_set_lock ... took another, SOFTIRQ-unsafe lock in the past: (&sighand->siglock)"
    "cgroup_syzbot_irq_inversion.txt": {"irq_class": "SOFTIRQ", "other_lock": "&sighand->siglock",
                                        "safe_lock": "css_set_lock", "unsafe_lock": "&sighand->siglock"},
    "pidfd_irq_inversion_quoted.txt": {"irq_class": "SOFTIRQ", "other_lock": "&pid->wait_pidfd",
                                       "safe_lock": "tasklist_lock", "unsafe_lock": "&pid->wait_pidfd"},
    # "connects a SOFTIRQ-irq-safe lock: (fasync_lock)" ... "to a SOFTIRQ-irq-unsafe lock: (&f->f_owner.lock)"
    "fasync_syzbot_softirq_safe_unsafe.txt": {"irq_class": "SOFTIRQ", "safe_lock": "fasync_lock",
                                              "unsafe_lock": "&f->f_owner.lock"},
    # Cut by its author before "to a SOFTIRQ-irq-unsafe lock:".
    "iwlwifi_softirq_safe_unsafe.txt": {"irq_class": "SOFTIRQ", "safe_lock": "&sta->rate_ctrl_lock"},
    # "but this lock took another, HARDIRQ-READ-unsafe lock in the past: (&trig->leddev_list_lock)"
    "leds_libata_hardirq_read_irq_inversion.txt": {"irq_class": "HARDIRQ", "other_lock": "&trig->leddev_list_lock",
                                                   "safe_lock": "&host->lock",
                                                   "unsafe_lock": "&trig->leddev_list_lock"},
    "snd_pcm_syzbot_softirq_read_irq_inversion.txt": {"irq_class": "SOFTIRQ",
                                                      "other_lock": "&card->ctl_files_rwlock",
                                                      "safe_lock": "&group->lock",
                                                      "unsafe_lock": "&card->ctl_files_rwlock"},
    # "connects a SOFTIRQ-READ-irq-safe lock:" ... "to a SOFTIRQ-READ-irq-unsafe lock:"
    "xfrm_syzbot_softirq_read_safe_unsafe.txt": {"irq_class": "SOFTIRQ", "safe_lock": "&s->seqcount#12",
                                                 "unsafe_lock": "&s->seqcount#11"},
    # A spinlock_t ({3:3} with CONFIG_PROVE_RAW_LOCK_NESTING) under the raw
    # spinlock &ctx->timeout_lock ({2:2}); the task's own context allows {5:5}.
    "io_uring_invalid_wait_context.txt": {"wait_type": "{3:3}", "context_wait_type": "{5:5}",
                                          "held_wait_types": ["{0:0}", "{0:0}", "{3:3}", "{2:2}", "{1:3}", "{1:3}"]},
}
for _name, _exp in EXPECTED.items():
    _exp.update({k: None for k in KIND_FACTS})
    _exp["held_wait_types"] = []
    _exp.update(FACTS.get(_name, {}))
EXPECTED["kvm_vfio_quoted.txt"] = EXPECTED["kvm_vfio.txt"]

EXPECTED_STACKS = {
    "mm_iommu.txt": (
        ("lock_acquire", "down_write", "mm_iommu_adjust_locked_vm.part.1", "mm_iommu_do_alloc",
         "tce_iommu_ioctl.part.9", "vfio_fops_unl_ioctl", "do_vfs_ioctl", "ksys_ioctl", "sys_ioctl",
         "system_call"),
        ("__lock_acquire", "lock_acquire", "__mutex_lock", "mm_iommu_do_alloc", "vfio_pci_nvgpu_mmap",
         "vfio_pci_mmap", "vfio_device_fops_mmap", "mmap_region", "do_mmap", "vm_mmap_pgoff",
         "ksys_mmap_pgoff", "sys_mmap", "system_call"),
    ),
    "iommufd.txt": (
        ("down_write", "iommufd_object_destroy_user", "iommufd_access_destroy",
         "iommufd_test_staccess_release", "__fput", "____fput", "task_work_run", "exit_to_user_mode_loop",
         "exit_to_user_mode_prepare", "syscall_exit_to_user_mode", "do_syscall_64",
         "entry_SYSCALL_64_after_hwframe"),
        ("__lock_acquire", "lock_acquire", "__mutex_lock_common", "mutex_lock_nested",
         "iommufd_test_access_unmap", "iommufd_access_notify_unmap", "iopt_unmap_iova_range",
         "iopt_unmap_iova", "iommufd_ioas_unmap", "iommufd_fops_ioctl", "__x64_sys_ioctl", "do_syscall_64",
         "entry_SYSCALL_64_after_hwframe"),
    ),
    "kvm_vfio.txt": (
        ("__lock_acquire", "lock_acquire.part.0", "lock_acquire", "__mutex_lock", "mutex_lock_nested",
         "vfio_ap_mdev_open_device", "vfio_device_open", "vfio_device_open_file",
         "vfio_group_fops_unl_ioctl", "__s390x_sys_ioctl", "do_syscall", "__do_syscall", "system_call"),
        ("__lock_acquire", "lock_acquire.part.0", "lock_acquire", "__mutex_lock", "mutex_lock_nested",
         "vfio_ap_mdev_open_device", "vfio_device_open", "vfio_device_open_file",
         "vfio_group_fops_unl_ioctl", "__s390x_sys_ioctl", "do_syscall", "__do_syscall", "system_call"),
        ("__lock_acquire", "lock_acquire.part.0", "lock_acquire", "__mutex_lock", "mutex_lock_nested",
         "vfio_device_open", "vfio_device_open_file", "vfio_group_fops_unl_ioctl", "__s390x_sys_ioctl",
         "do_syscall", "__do_syscall", "system_call"),
        ("check_prev_add", "validate_chain", "__lock_acquire", "lock_acquire.part.0", "lock_acquire",
         "__mutex_lock", "mutex_lock_nested", "vfio_file_set_kvm", "kvm_vfio_release",
         "kvm_device_release", "__fput", "task_work_run", "do_exit", "do_group_exit", "get_signal",
         "arch_do_signal_or_restart", "exit_to_user_mode_loop", "exit_to_user_mode_prepare",
         "__do_syscall", "system_call"),
    ),
    "nilfs_syzbot.txt": (
        ("down_write", "nilfs_set_error", "__nilfs_error", "nilfs_bmap_convert_error",
         "nilfs_bmap_lookup_contig", "nilfs_get_block", "block_truncate_page", "nilfs_truncate",
         "nilfs_setattr", "notify_change", "do_truncate", "vfs_truncate", "do_sys_truncate",
         "__do_sys_truncate", "__se_sys_truncate", "__arm64_sys_truncate", "__invoke_syscall",
         "invoke_syscall", "el0_svc_common", "do_el0_svc", "el0_svc", "el0t_64_sync_handler",
         "el0t_64_sync"),
        ("check_prev_add", "check_prevs_add", "validate_chain", "__lock_acquire", "lock_acquire",
         "down_read", "nilfs_count_free_blocks", "nilfs_set_log_cursor", "nilfs_cleanup_super",
         "nilfs_put_super", "generic_shutdown_super", "kill_block_super", "deactivate_locked_super",
         "deactivate_super", "cleanup_mnt", "__cleanup_mnt", "task_work_run", "resume_user_mode_work",
         "do_notify_resume", "prepare_exit_to_user_mode", "exit_to_user_mode", "el0_svc",
         "el0t_64_sync_handler", "el0t_64_sync"),
    ),
}
EXPECTED_STACKS["nfsd_laundromat_syslog_escaped.txt"] = (
    ("process_one_work", "worker_thread", "kthread", "ret_from_fork"),
    ("flush_workqueue", "posix_lock_inode", "nfsd4_lock", "nfsd4_proc_compound", "nfsd_dispatch",
     "svc_process_common", "svc_process", "nfsd", "kthread", "ret_from_fork"),
    ("__lock_acquire", "lock_acquire", "posix_lock_inode", "locks_remove_posix", "filp_close",
     "nfs4_free_lock_stateid", "free_ol_stateid_reaplist", "release_openowner", "__destroy_client",
     "laundromat_main", "process_one_work", "worker_thread", "kthread", "ret_from_fork"),
)
EXPECTED_STACKS["shm_xfs_syslog_escaped_wrapped.txt"] = (
    # "[<addr>]" on one line, the function on the next: the wrap is undone.
    ("lock_acquire", "__might_fault", "filldir", "xfs_dir2_block_getdents.isra.12", "xfs_readdir",
     "xfs_file_readdir", "iterate_dir", "SyS_getdents", "entry_SYSCALL_64_fastpath"),
    ("lock_acquire", "down_read_nested", "xfs_ilock", "xfs_ilock_attr_map_shared", "xfs_attr_get",
     "xfs_xattr_get", "generic_getxattr", "inode_doinit_with_dentry", "sb_finish_set_opts",
     "selinux_set_mnt_opts", "superblock_doinit", "delayed_superblock_init", "iterate_supers",
     "selinux_complete_init", "security_load_policy", "sel_write_load", "__vfs_write", "vfs_write",
     "SyS_write", "entry_SYSCALL_64_fastpath"),
    ("lock_acquire", "mutex_lock_nested", "inode_doinit_with_dentry", "selinux_d_instantiate",
     "security_d_instantiate", "d_instantiate", "__shmem_file_setup", "shmem_file_setup", "newseg", "ipcget",
     "SyS_shmget", "entry_SYSCALL_64_fastpath"),
    ("__lock_acquire", "lock_acquire", "down_write", "shm_close", "remove_vma", "do_munmap", "SyS_shmdt",
     "entry_SYSCALL_64_fastpath"),
)
EXPECTED_STACKS["kvm_vfio_quoted.txt"] = EXPECTED_STACKS["kvm_vfio.txt"]

DATA_FILES = sorted(p.name for p in SPLATS.glob("*.txt"))
# Files whose lines carry no log prefix of their own; timestamps and syslog
# prefixes can be added to these without changing what a reader sees.
PLAIN_FILES = [n for n in DATA_FILES if n not in
               {"kvm_vfio.txt", "kvm_vfio_quoted.txt", "iommufd.txt", "rapl_recursive_ci.txt",
                "fuse_recursive_syslog.txt", "nfsd_laundromat_syslog_escaped.txt",
                "shm_xfs_syslog_escaped_wrapped.txt"}]


def test_every_data_file_has_expectations():
    assert sorted(EXPECTED) == DATA_FILES


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_file_parses_to_expected_fields(name):
    s = parse_file(SPLATS / name)
    assert s.to_json() == EXPECTED[name]
    assert len(s.chain_stacks) == len(s.chain)
    if name in EXPECTED_STACKS:
        assert s.chain_stacks == EXPECTED_STACKS[name]


def test_quoted_and_unquoted_kvm_vfio_are_identical():
    assert parse(read("kvm_vfio_quoted.txt")) == parse(read("kvm_vfio.txt"))


def test_kvm_vfio_brief_values():
    # The values the lab's brief quotes for this report, spelled out once more.
    s = parse_file(SPLATS / "kvm_vfio.txt")
    assert (s.kind, s.task_comm, s.acquiring_lock, s.held_lock) == (
        "circular", "CPU 0/KVM/1173", "&group->group_lock", "&kvm->lock")
    assert s.locks_held_count == 1
    assert s.chain_stacks[3][7] == "vfio_file_set_kvm"


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_a_real_report(kind):
    names = [n for n in DATA_FILES if EXPECTED[n]["kind"] == kind]
    assert names, f"no real {kind} report in data/splats"
    for n in names:
        assert parse(read(n)).kind == kind


def test_to_json_keys_and_types():
    j = parse(read("kvm_vfio.txt")).to_json()
    assert list(j) == ["kind", "title", "task_comm", "acquiring_lock", "held_lock", "chain",
                       "chain_exists_of", "scenario", "locks_held_count", "locks_held", "kernel",
                       "usage_transition", "irq_class", "other_lock", "safe_lock", "unsafe_lock",
                       "wait_type", "context_wait_type", "held_wait_types"]
    assert all(isinstance(row, list) and len(row) == 2 for row in j["scenario"])


def test_sources_md_lists_every_file():
    sources = read("SOURCES.md")
    for name in DATA_FILES:
        assert f"`{name}`" in sources, name


# --- transformations of the real files ---------------------------------------

_QUOTE_HEAD = re.compile(r"(?:>+ ?)*")


def add_prefix(text: str, make) -> str:
    """Put ``make(i)`` in front of every line, inside any mail quoting."""
    out = []
    for i, line in enumerate(text.split("\n")):
        q = _QUOTE_HEAD.match(line).end()
        rest = line[q:]
        out.append(line[:q] + make(i) + (" " + rest if rest else ""))
    return "\n".join(out)


def timestamps(text: str) -> str:
    return add_prefix(text, lambda i: f"[{100 + i // 1000:5d}.{i % 1000:06d}]")


def syslog(text: str) -> str:
    return add_prefix(text, lambda i: "Jan 31 14:27:54 hades kernel:")


def loglevel_and_caller(text: str) -> str:
    return add_prefix(text, lambda i: f"<4>[{7 + i:5d}.123456][ T{1000 + i}]")


def quote(text: str, marker: str = "> ") -> str:
    return "\n".join(marker + line if line else marker.rstrip() for line in text.split("\n"))


_WRAP_HEAD = re.compile(r"(?:[ \t]{0,3}>)*[ \t\xa0]*(?:<\d>)?(?:\[[^\]\n]{0,40}\])*[ \t\xa0]*")


def rewrap(text: str, width: int = 72) -> str:
    """Break long lines at the last blank before *width*, like a mail client.

    Words longer than the width are not broken, nor is the leading quote,
    log prefix and indentation; the remainder keeps the line's quoting.
    """
    out = []
    for line in text.split("\n"):
        head = _WRAP_HEAD.match(line).end()
        marker = _QUOTE_HEAD.match(line).group(0)
        while len(line) > width:
            cut = line.rfind(" ", head + 1, width + 1)
            if cut <= head:
                break
            out.append(line[:cut])
            line = marker + line[cut + 1:]
            head = len(marker)
        out.append(line)
    return "\n".join(out)


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def indent_block(text: str, pad: str = "\t") -> str:
    return "\n".join(pad + line for line in text.split("\n"))


def surround(text: str) -> str:
    before = ("Hi all,\n\nwhile testing -next I hit the following; an unrelated warning came first:\n\n"
              "WARNING: CPU: 1 PID: 77 at fs/fuse/dir.c:99 fuse_lookup+0x10/0x20\n"
              "Call Trace:\n dump_stack+0x1/0x2\n\n")
    after = "\n\nAny idea? A possible circular locking dependency seems unlikely here.\n\nThanks,\nA.\n"
    return before + text + after


TRANSFORMS_ALL = {
    "quote": quote,
    "quote_nested": lambda t: quote(quote(t), "> "),
    "quote_nospace": lambda t: quote(t, ">"),
    "quote_double": lambda t: quote(t, ">> "),
    "rewrap72": rewrap,
    "crlf": crlf,
    "tab_indent": indent_block,
    "four_space_indent": lambda t: indent_block(t, "    "),
    "surrounded": surround,
    "rewrap_quote_crlf": lambda t: crlf(quote(rewrap(t))),
    "rewrap60_quote": lambda t: quote(rewrap(t, 60)),
}
TRANSFORMS_PLAIN = {
    "timestamps": timestamps,
    "syslog": syslog,
    "loglevel_caller": loglevel_and_caller,
    "timestamps_rewrap": lambda t: rewrap(timestamps(t)),
    "timestamps_rewrap_quote_crlf": lambda t: crlf(quote(rewrap(timestamps(t)))),
    "syslog_rewrap_indent": lambda t: indent_block(rewrap(syslog(t)), "    "),
}
# A transform that leaves a file unchanged proves nothing (rapl_recursive_ci.txt
# was already wrapped at 72 columns by its sender), so such pairs are left out.
CASES = [(n, t) for n in DATA_FILES for t in TRANSFORMS_ALL if TRANSFORMS_ALL[t](read(n)) != read(n)] + [
    (n, t) for n in PLAIN_FILES for t in TRANSFORMS_PLAIN]


@pytest.mark.parametrize("name,transform", CASES)
def test_transformed_file_parses_the_same(name, transform):
    fn = TRANSFORMS_ALL.get(transform) or TRANSFORMS_PLAIN[transform]
    original = read(name)
    changed = fn(original)
    assert changed != original
    assert parse(changed) == parse(original)


def test_rewrap_really_wraps_the_long_lines():
    # Guard against the wrap helper silently doing nothing.
    wrapped = rewrap(read("nilfs_syzbot.txt"))
    assert "at:\nnilfs_count_free_blocks+0x2c/0x6c" in wrapped
    assert wrapped.count("\n") >= read("nilfs_syzbot.txt").count("\n") + 10


def test_rewrapped_prefixed_title_is_found():
    # "[  100.000001] WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected"
    # is longer than 72 columns, so the title itself gets wrapped.
    text = rewrap(timestamps(read("fasync_syzbot_softirq_safe_unsafe.txt")))
    assert "lock order\ndetected" in text
    assert parse(text).kind == "irq_safe_unsafe"


# --- whole documents -----------------------------------------------------------

def test_parse_all_finds_every_report_in_order():
    text = "\n\nunrelated line\n\n".join(read(n) for n in DATA_FILES)
    got = parse_all(text)
    assert [s.to_json() for s in got] == [EXPECTED[n] for n in DATA_FILES]


def test_parse_all_returns_quoted_copy_too():
    both = read("kvm_vfio.txt") + "\n\nOn 1/31/23 Anthony wrote:\n" + read("kvm_vfio_quoted.txt")
    a, b = parse_all(both)
    assert a == b
    assert parse(both) == a


def test_report_cut_before_task_line_is_skipped_for_a_later_one():
    cut = "\n".join(read("ksmbd_recursive.txt").split("\n")[:3])
    s = parse(cut + "\n\n" + read("mt76_inconsistent.txt"))
    assert s.kind == "inconsistent"


def test_report_cut_before_task_line_alone_names_the_line():
    cut = "Hello\n\n" + "\n".join(read("ksmbd_recursive.txt").split("\n")[:3])
    with pytest.raises(SplatError, match=r"^cut\.txt:4: lockdep report 'possible recursive locking detected' "
                                         r"has no task line$"):
        parse(cut, source="cut.txt")


def test_no_report_error_names_the_source():
    with pytest.raises(SplatError, match=r"^no lockdep report found in notes\.txt$"):
        parse("just some text\nWARNING: CPU: 0 PID: 1 at foo.c:1 bar+0x1/0x2\n", source="notes.txt")
    with pytest.raises(SplatError, match=r"<string>"):
        parse("")
    with pytest.raises(SplatError):
        parse_all("")


def test_splat_error_is_a_value_error_and_a_lab_error():
    assert issubclass(SplatError, ValueError)
    assert issubclass(SplatError, LabError)


def test_parse_file_names_the_path(tmp_path):
    p = tmp_path / "empty.log"
    p.write_bytes(b"\xff\xfe not utf-8 \x80 and no report\n")
    with pytest.raises(SplatError, match=re.escape(str(p))):
        parse_file(p)


def test_parse_file_reads_crlf_and_bad_bytes(tmp_path):
    p = tmp_path / "mt76.log"
    p.write_bytes(b"\x80\x81 junk\r\n" + read("mt76_inconsistent.txt").replace("\n", "\r\n").encode())
    assert parse_file(str(p)) == parse(read("mt76_inconsistent.txt"))


def test_bytes_are_decoded():
    assert parse(read("ksmbd_recursive.txt").encode()) == parse(read("ksmbd_recursive.txt"))


def test_old_crlf_mac_line_ends():
    assert parse(read("mm_iommu.txt").replace("\n", "\r")) == parse(read("mm_iommu.txt"))


# --- scenario layout --------------------------------------------------------------

def test_scenario_ambiguous_indentation_uses_the_circular_pattern():
    # kvm_vfio.txt as found: the web archive left CPU1's rows LESS indented
    # than CPU0's; relative indentation cannot decide, the layout does.
    rows = [line for line in read("kvm_vfio.txt").split("\n") if "lock(" in line and "_lock" not in line[:20]]
    assert any(r.startswith("[\xa0 585.044219] lock(") for r in rows)
    assert [c for c, _ in parse(read("kvm_vfio.txt")).scenario] == ["CPU0", "CPU1", "CPU1", "CPU0"]


def test_scenario_ambiguous_irq_layout():
    # The real cgroup report with CPU1's indentation squeezed to one blank,
    # as an archive that collapses runs of spaces would show it.
    text = read("cgroup_syzbot_irq_inversion.txt").replace("                               ", " ")
    s = parse(text)
    assert s.scenario == tuple(tuple(r) for r in EXPECTED["cgroup_syzbot_irq_inversion.txt"]["scenario"])


# --- CONSTRUCTED snippets for layouts the real files do not show ----------------

def test_constructed_no_locks_held_and_rlock():
    # CONSTRUCTED from the format of lockdep's print_deadlock_bug and
    # lockdep_print_held_locks, to cover "no locks held" and rlock rows.
    text = ("WARNING: possible recursive locking detected\n"
            "6.1.0 #1 Not tainted\n"
            "--------------------------------------------\n"
            "a.out/7 is trying to acquire lock:\n"
            "ffff0000 (&x->rw){++++}-{3:3}, at: f+0x1/0x2\n\n"
            "but task is already holding lock:\n"
            "ffff0000 (&x->rw){++++}-{3:3}, at: g+0x1/0x2\n\n"
            "other info that might help us debug this:\n"
            " Possible unsafe locking scenario:\n\n"
            "       CPU0\n       ----\n  rlock(&x->rw);\n  lock(&x->rw);\n\n *** DEADLOCK ***\n\n"
            "no locks held by a.out/7.\n")
    s = parse(text)
    assert s.scenario == (("CPU0", "rlock(&x->rw)"), ("CPU0", "lock(&x->rw)"))
    assert (s.locks_held_count, s.locks_held) == (0, ())


def test_constructed_unknown_constant_prefix():
    # CONSTRUCTED: a test harness that tags every console line.
    body = read("ksmbd_recursive.txt")
    text = "\n".join("KERNEL-OOPS: " + line for line in body.split("\n"))
    assert parse(text) == parse(body)


# --- never anything but a Splat or a SplatError ---------------------------------

def _check(text: str) -> None:
    try:
        results = parse_all(text)
    except SplatError:
        return
    for s in results:
        assert isinstance(s, Splat)
        assert s.kind in KINDS
        assert isinstance(s.title, str) and s.title
        assert isinstance(s.task_comm, str) and s.task_comm
        assert len(s.chain) == len(s.chain_stacks)
        assert all(cpu in ("CPU0", "CPU1") for cpu, _ in s.scenario)
        assert s.locks_held_count is None or s.locks_held_count >= 0
        s.to_json()
    assert parse(text) == results[0]


ALL_LINES = sorted({line for n in DATA_FILES for line in read(n).split("\n")})
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=3000))
def test_fuzz_random_text(text):
    _check(text)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(ALL_LINES), st.text(max_size=80)), max_size=120))
def test_fuzz_soup_of_real_lines(lines):
    _check("\n".join(lines))


@FUZZ
@given(st.sampled_from(DATA_FILES), st.data())
def test_fuzz_mutated_real_files(name, data):
    lines = read(name).split("\n")
    for _ in range(data.draw(st.integers(0, 6))):
        op = data.draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "swap"]))
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[i: i + data.draw(st.integers(1, 5))]
        elif op == "insert":
            lines.insert(i, data.draw(st.text(max_size=60)))
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "replace":
            lines[i] = data.draw(st.text(max_size=60))
        else:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    text = "\n".join(lines)
    cut = data.draw(st.integers(0, len(text)))
    _check(text[:cut])
    _check(text[cut:])


@FUZZ
@given(st.sampled_from(DATA_FILES), st.integers(0, 20000))
def test_fuzz_truncated_real_files(name, cut):
    text = read(name)
    _check(text[: cut % (len(text) + 1)])


# --- linear time -------------------------------------------------------------------

PATHOLOGICAL = {
    "open_parens": "(" * 300_000,
    "spaces": " " * 300_000,
    "quotes": ">" * 300_000,
    "brackets": "[" * 100_000 + "0." * 50_000,
    "titles": "WARNING: possible circular locking dependency detected\n" * 20_000,
    "title_then_prose": ("[    1.000000] WARNING: possible recursive locking detected\n"
                         + "x at:\n" * 50_000),
    "chain_entries": ("WARNING: possible circular locking dependency detected\nt/1 is trying to acquire lock:\n"
                      + "-> #1 (" * 30_000 + "\n" + "-> #1 (a){....}:\n f+0x1/0x2\n" * 20_000),
    "lock_lines": "ffffffffffffffff (" + "){" * 100_000,
    "held": "1 locks held by " + "a" * 200_000 + "\n" + " #0: (" * 40_000,
    "long_real": read("kvm_vfio.txt") * 60,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_input_gives_a_result(name):
    # How fast is measured by benchmarks/splat_scan.py, never asserted here:
    # a wall-clock bound fails on a loaded machine.
    _check(PATHOLOGICAL[name])


def test_doctests():
    result = doctest.testmod(splat_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4
    assert result.failed == 0


# --- logs that escape control characters (issue 7) ------------------------------
#
# rsyslog writes a newline inside a kernel record as "#012" and a tab as
# "#011"; /dev/kmsg writes "\x0a". Lockdep prints most of its lines as records
# that begin with a newline ("\nbut task is already holding lock:"), so in such
# a log the blank lines of a report become "#012" at the front of the next
# line, as in data/splats/nfsd_laundromat_syslog_escaped.txt.

def escaped(text: str, prefix: str, esc: str) -> str:
    """Each run of blank lines folded into *esc* in front of the line after it."""
    out, pending = [], False
    for line in text.split("\n"):
        if not line.strip():
            pending = True
            continue
        out.append(prefix + (esc if pending else "") + line)
        pending = False
    return "\n".join(out)


def rsyslog_escaped(text: str) -> str:
    return escaped(text, "Jan 31 14:27:54 hades kernel: ", "#012")


def kmsg_escaped(text: str) -> str:
    return escaped(text, "4,1234,567890,-;", "\\x0a")


# Files whose lines are not mail-quoted: a log prefix goes in front of them.
UNQUOTED_FILES = [n for n in PLAIN_FILES if not any(line.startswith(">") for line in read(n).split("\n"))]


@pytest.mark.parametrize("name", UNQUOTED_FILES)
@pytest.mark.parametrize("transform", [rsyslog_escaped, kmsg_escaped])
def test_escaped_newlines_parse_the_same(name, transform):
    text = read(name)
    changed = transform(text)
    assert "#012" in changed or "\\x0a" in changed
    assert parse(changed) == parse(text)


@pytest.mark.parametrize("name", UNQUOTED_FILES)
def test_report_joined_into_one_syslog_line(name):
    # A log that escaped every newline: the whole report is one line.
    text = read(name)
    one = "Jan 31 14:27:54 hades kernel: " + "#012".join(text.split("\n"))
    assert "\n" not in one
    assert parse(one) == parse(text)


@pytest.mark.parametrize("name", ["ksmbd_recursive.txt", "mt76_inconsistent.txt", "mm_iommu.txt"])
def test_escaped_tabs(name):
    # A report pasted tab-indented (as in the scoutfs pull request quoted in
    # SOURCES.md's search notes), then logged by rsyslog: "#011" starts each line.
    text = read(name)
    changed = escaped(indent_block(text, "\t"), "Jan 31 14:27:54 hades kernel: ", "#012").replace("\t", "#011")
    assert "#011" in changed and "\t" not in changed
    assert parse(changed) == parse(text)


def test_escape_decoding_leaves_class_suffixes_alone():
    s = parse(rsyslog_escaped(read("nilfs_syzbot.txt")))
    assert "&type->s_umount_key#41" in s.locks_held
    assert s.kernel == EXPECTED["nilfs_syzbot.txt"]["kernel"]  # "#0 Not tainted"


# --- lock names the kernel printed in pieces (issue 7) ------------------------------
#
# Lockdep prints a class name with several printk(KERN_CONT ...) calls: the
# name, "#N", "/N", "){usage}". When another message gets in between, the rest
# of the name starts a record of its own: a new line with its own timestamp.

_SUFFIX = re.compile(r"(?:#\d+)?(?:/\d+)?$")
_ROW = re.compile(r"^(\s*r?lock\()(.+\);)$")


def kernel_split(text: str) -> str:
    """Break every lock class where the kernel's printk pieces meet."""
    out = []
    for line in text.split("\n"):
        m = _ROW.match(line)
        if m:
            out += [m.group(1), m.group(2)]
            continue
        head = re.match(r"\s*->\s?#\d+\s", line)
        cls = splat_mod._lock_class(line[head.end():] if head else line)
        at = line.find("(" + cls + "){") if cls else -1
        if at < 0:
            out.append(line)
            continue
        suffix = _SUFFIX.search(cls).group(0)
        cut = at + 1 + len(cls) - len(suffix) if suffix else at + 1 + len(cls)
        out += [line[:cut], line[cut:]]
    return "\n".join(out)


def test_kernel_split_really_splits():
    text = kernel_split(read("ksmbd_recursive.txt"))
    assert "(sb_writers\n#5){.+.+}" in text
    assert "(&type->i_mutex_dir_key\n#3/1){+.+.}" in text
    assert "  lock(\nsb_writers#5);" in text


@pytest.mark.parametrize("name", PLAIN_FILES)
def test_lock_names_broken_by_the_kernel_are_joined_without_a_blank(name):
    text = read(name)
    assert parse(timestamps(kernel_split(text))) == parse(text)


@pytest.mark.parametrize("name", PLAIN_FILES)
def test_lock_names_broken_without_log_prefixes(name):
    # The same breaks in a paste without timestamps (a terminal's hard wrap).
    text = read(name)
    assert parse(kernel_split(text)) == parse(text)


def test_chain_entry_head_alone_on_its_line():
    # print_circular_bug_entry prints "\n-> #%u" and then the lock name.
    text = timestamps(re.sub(r"(?m)^(-> #\d+) ", r"\1\n", read("mm_iommu.txt")))
    assert "-> #1\n" in re.sub(r"\[[^\]]*\] ", "", text)
    assert parse(text) == parse(read("mm_iommu.txt"))


# --- per-kind facts ------------------------------------------------------------------

def test_inconsistent_transition_is_read_from_a_wrapped_line():
    text = read("mt76_inconsistent.txt").replace("-> {SOFTIRQ-ON-W} usage.", "->\n{SOFTIRQ-ON-W} usage.")
    assert "->\n{SOFTIRQ-ON-W}" in text
    assert parse(text).usage_transition == "{IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W}"


def test_irq_inversion_backwards_names_the_safe_lock():
    # CONSTRUCTED from the real cgroup report: lockdep's other wording
    # ("was taken by another, ...-safe lock"), printed when the lock that
    # changed state became irq-unsafe.
    text = read("cgroup_syzbot_irq_inversion.txt").replace(
        "but this lock took another, SOFTIRQ-unsafe lock in the past:",
        "but this lock was taken by another, SOFTIRQ-safe lock in the past:")
    s = parse(text)
    assert (s.other_lock, s.safe_lock, s.unsafe_lock, s.irq_class) == (
        "&sighand->siglock", "&sighand->siglock", "css_set_lock", "SOFTIRQ")


# --- hardening (issue 15) ---------------------------------------------------------------

@pytest.mark.parametrize("name", DATA_FILES)
def test_nul_before_every_newline(name, tmp_path):
    text = read(name)
    assert parse(text.replace("\n", "\x00\n")) == parse(text)
    p = tmp_path / "serial.log"
    p.write_bytes(text.replace("\n", "\x00\r\n").encode())
    assert parse_file(p) == parse(text)


@pytest.mark.parametrize("name", DATA_FILES)
def test_ff_fe_line_noise(name, tmp_path):
    text = read(name)
    p = tmp_path / "noisy.log"
    p.write_bytes(b"\n".join(b"\xff\xfe" + line.encode() + b"\xfe" for line in text.split("\n")))
    assert parse_file(p) == parse(text)


def test_utf16_with_byte_order_mark(tmp_path):
    p = tmp_path / "utf16.log"
    p.write_bytes(read("kvm_vfio.txt").encode("utf-16"))
    assert parse_file(p) == parse(read("kvm_vfio.txt"))


def test_dmesg_colour_codes():
    # dmesg --color=always: the timestamp in green, reset after it.
    text = add_prefix(read("nilfs_syzbot.txt"), lambda i: f"\x1b[32m[{100 + i // 1000:5d}.{i % 1000:06d}]\x1b[0m")
    assert parse(text) == parse(read("nilfs_syzbot.txt"))


def _cut_after_last_row(text: str) -> str:
    lines = text.split("\n")
    last = max(k for k, line in enumerate(lines) if line.rstrip().endswith(";") or "<Interrupt>" in line)
    return "\n".join(lines[:last + 1])


SCENARIO_FILES = [n for n in DATA_FILES if EXPECTED[n]["scenario"]]


@pytest.mark.parametrize("name", SCENARIO_FILES)
def test_report_followed_directly_by_another_keeps_its_last_row(name):
    cut = _cut_after_last_row(read(name))
    for nxt in ("ksmbd_recursive.txt", "iwlwifi_softirq_safe_unsafe.txt", "nilfs_syzbot.txt"):
        first, second = parse_all(cut + "\n" + read(nxt))[:2]
        assert first.scenario == parse(read(name)).scenario, nxt
        assert second == parse(read(nxt))


CHAIN_FILES = [n for n in DATA_FILES if EXPECTED[n]["chain"] and n in PLAIN_FILES]


@pytest.mark.parametrize("name", CHAIN_FILES)
@pytest.mark.parametrize("prose", ["Jason", "Any idea what is going on here?", "Regards\nJohn Smith",
                                   "so the driver must not do that"])
def test_prose_after_a_truncated_report_stays_out_of_the_stack(name, prose):
    lines = read(name).split("\n")
    k = max(i for i, line in enumerate(lines) if line.startswith("-> #0"))
    end = next(j for j in range(k + 1, len(lines)) if not lines[j].strip())
    s = parse("\n".join(lines[:end]) + "\n" + prose + "\n")
    assert s.chain_stacks == parse(read(name)).chain_stacks


def test_locks_held_by_another_task_later_in_the_log_are_not_taken():
    # The fuse report stops after its scenario; the log goes on with the
    # hung-task detector's list (CONSTRUCTED in lockdep_print_held_locks'
    # format), which is not part of the report.
    text = (read("fuse_recursive_syslog.txt").rstrip("\n")
            + "\nJun 11 11:05:01 k8snode228 kernel: Showing all locks held in the system:"
            + "\nJun 11 11:05:01 k8snode228 kernel: 1 lock held by khungtaskd/38:"
            + "\nJun 11 11:05:01 k8snode228 kernel:  #0: ffffffff82a5b3a0 (rcu_read_lock){....}, at:"
              " debug_show_all_locks+0x15/0x183\n")
    s = parse(text)
    assert (s.locks_held_count, s.locks_held) == (None, ())
    assert s.scenario == parse(read("fuse_recursive_syslog.txt")).scenario


def test_scan_memory_does_not_grow_with_the_lines():
    # Before: one Python tuple per line (10 MB of newlines took 1.1 GB). Now
    # only a report's own lines are ever split; what is measured here is
    # allocation, which does not depend on the machine's load.
    import tracemalloc
    newlines = "\n" * (2 << 20)
    dump = "".join(f"[{i / 1000:12.6f}] usb 1-1: new device number {i % 128} using xhci_hcd\n"
                   for i in range(40_000))
    dump += timestamps(read("nilfs_syzbot.txt"))
    tracemalloc.start()
    try:
        with pytest.raises(SplatError):
            parse(newlines)
        _, peak_newlines = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        s = parse(dump)
        _, peak_dump = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert s == parse(read("nilfs_syzbot.txt"))
    assert peak_newlines < len(newlines) // 4
    assert peak_dump < len(dump) // 4


# --- reading files (issue 15) ------------------------------------------------------------

def _cli(*argv, stdin=None, timeout=120):
    import subprocess
    import sys
    # The timeout only keeps a hang from stalling the suite; it is not a speed check.
    return subprocess.run([sys.executable, "-m", "labkit", "splat", *argv], stdin=stdin, capture_output=True,
                          text=True, timeout=timeout, cwd=SPLATS.parent.parent)


@pytest.mark.parametrize("path, what", [("/dev/null", "a character device"), ("/dev/zero", "a character device"),
                                        ("/dev/urandom", "a character device")])
def test_devices_are_refused_before_reading(path, what):
    p = _cli(path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == f"error: {path}: not a regular file ({what}); give a file, or - for standard input\n"


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = _cli(str(fifo))
    assert p.returncode == 2
    assert p.stderr == f"error: {fifo}: not a regular file (a FIFO); give a file, or - for standard input\n"


def test_directory_is_refused(tmp_path):
    with pytest.raises(SplatError, match=r"not a regular file \(a directory\)"):
        parse_file(tmp_path)


def test_stdin_by_dash():
    with open(SPLATS / "kvm_vfio.txt", "rb") as f:
        p = _cli("-", "--json", stdin=f)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == EXPECTED["kvm_vfio.txt"]


def test_endless_stdin_stops_at_the_cap():
    with open("/dev/zero", "rb") as f:
        p = _cli("-", stdin=f)
    assert p.returncode == 2
    assert p.stderr == ("error: standard input: more than 64 MiB; the limit is 64 MiB: "
                        "cut out the part with the report\n")


def test_file_over_the_cap_is_refused_and_the_error_says_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(splat_mod, "MAX_BYTES", 4096)
    p = tmp_path / "big.log"
    p.write_text(read("kvm_vfio.txt"))
    with pytest.raises(SplatError) as e:
        parse_file(p)
    assert str(e.value) == f"{p}: {p.stat().st_size} bytes is too big; the limit is 4096 bytes: " \
                           f"cut out the part with the report"
    assert "\n" not in str(e.value)


def test_missing_file_is_one_line(capsys):
    from labkit.cli import main
    code = main(["splat", "/nonexistent/x.log"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err == "error: /nonexistent/x.log: No such file or directory\n"


# --- the README documents the JSON keys ----------------------------------------------------

def test_readme_documents_every_json_key():
    readme = (SPLATS.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("`splat --json`"):]
    for key in parse(read("kvm_vfio.txt")).to_json():
        assert f"`{key}`" in section, key


# --- bad unlock balance and invalid wait context ---------------------------------------------

def test_the_two_new_kinds_have_their_own_facts():
    bad = parse(read("mremap_syzbot_bad_unlock.txt"))
    assert (bad.kind, bad.acquiring_lock, bad.wait_type, bad.held_wait_types) == (
        "bad_unlock_balance", "&mapping->i_mmap_rwsem", None, ())
    ctx = parse(read("io_uring_invalid_wait_context.txt"))
    # The held raw spinlock, not the task's context, is what a {3:3} lock breaks:
    # lockdep takes the smallest inner number of the held locks ({0:0} is not
    # checked) and of the context, and the new lock's outer number must not exceed it.
    checked = [w for w in ctx.held_wait_types if w != "{0:0}"]
    strictest = min(checked, key=lambda w: int(w[1:-1].split(":")[1]))
    assert (ctx.wait_type, ctx.context_wait_type, strictest) == ("{3:3}", "{5:5}", "{2:2}")
    assert dict(zip(ctx.locks_held, ctx.held_wait_types))["&ctx->timeout_lock"] == "{2:2}"


def test_old_bug_title_of_a_bad_unlock():
    # CONSTRUCTED from the real mremap report in the layout of 2.6-3.x kernels
    # ("[ BUG: bad unlock balance detected! ]", as quoted in several threads the
    # search tool returned; SOURCES.md lists the report itself).
    text = read("mremap_syzbot_bad_unlock.txt").replace(
        "WARNING: bad unlock balance detected!", "[ BUG: bad unlock balance detected! ]")
    assert parse(text) == parse(read("mremap_syzbot_bad_unlock.txt"))


def test_a_released_class_with_parentheses():
    # CONSTRUCTED: "(&q->q_usage_counter(queue))" as syzbot printed it for a
    # block-layer report; the class ends at ") at:".
    text = read("mremap_syzbot_bad_unlock.txt").replace("&mapping->i_mmap_rwsem", "&q->q_usage_counter(queue)")
    assert parse(text).acquiring_lock == "&q->q_usage_counter(queue)"
    assert parse(rewrap(text, 50)).acquiring_lock == "&q->q_usage_counter(queue)"


def test_wait_context_without_the_context_line():
    # CONSTRUCTED: kernels before the context-{n:n} line (5.7) printed none.
    text = read("io_uring_invalid_wait_context.txt").replace("context-{5:5}\n", "")
    s = parse(text)
    assert (s.context_wait_type, s.wait_type, s.locks_held_count) == (None, "{3:3}", 6)


def test_wait_context_title_far_from_lock_in_a_long_prefixed_log():
    # The title says no "lock"; with long syslog prefixes the task line is more
    # than 200 characters away, so the scan must know this title by itself.
    prefix = "May 13 15:16:32 kern.warn kernel: [ 1880.242388] "
    text = add_prefix(read("io_uring_invalid_wait_context.txt"), lambda i: prefix + "x" * 40)
    assert parse(text).kind == "invalid_wait_context"


def test_irq_inversion_backwards_read_form():
    # CONSTRUCTED from the real leds report: the other wording in its read form.
    text = read("leds_libata_hardirq_read_irq_inversion.txt").replace(
        "but this lock took another, HARDIRQ-READ-unsafe lock in the past:",
        "but this lock was taken by another, HARDIRQ-READ-safe lock in the past:")
    s = parse(text)
    assert (s.irq_class, s.other_lock, s.safe_lock, s.unsafe_lock) == (
        "HARDIRQ", "&trig->leddev_list_lock", "&trig->leddev_list_lock", "&host->lock")


@pytest.mark.parametrize("name", [n for n in DATA_FILES if EXPECTED[n]["kind"] in
                                  ("bad_unlock_balance", "invalid_wait_context")])
def test_from_splat_refuses_the_new_kinds_in_one_line(name, capsys):
    from labkit.cli import main
    from labkit.fromsplat import Unsupported, from_splat
    with pytest.raises(Unsupported, match="not supported: nothing to step$"):
        from_splat(SPLATS / name)
    assert main(["from-splat", str(SPLATS / name)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "not supported: nothing to step" in err


# The emulator (labkit.lockdep) prints these kinds too: each of its reports,
# parsed back, gives the facts it was printed from.

_SHARED = ["kind", "task_comm", "acquiring_lock", "held_lock", "chain", "chain_exists_of", "scenario",
           "locks_held_count", "locks_held", "usage_transition", "irq_class", "other_lock", "safe_lock",
           "unsafe_lock"]


def _round_trip(report, name):
    got = parse(report.text, source=name)
    want = report.to_json()
    assert {k: got.to_json()[k] for k in _SHARED} == {k: want[k] for k in _SHARED}, name
    return got


def _emulator_cases():
    from labkit.lockdep import Lockdep, LockRef
    spin, spin2 = LockRef("a", "&dev->a_lock", "spinlock", 0), LockRef("b", "&dev->b_lock", "spinlock", 1)
    mx, rw = LockRef("mx", "&dev->mutex", "mutex", 2), LockRef("rw", "&dev->rwlock", "rwlock", 3)

    def run(steps):
        ld = Lockdep(label="test")
        t = ld.task("CPU0", comm="insmod", pid=42)
        for op, *args in steps:
            if op == "lock":
                ld.lock_acquire(t, args[0], 0, at="dev_op", frames=("lock_acquire", "dev_op"))
            elif op == "unlock":
                ld.lock_release(t, args[0], at="dev_close", frames=("dev_close",))
            else:
                getattr(ld, op)(t)
        (r,) = ld.reports
        return r

    # name -> (report, wait_type, context_wait_type, held_wait_types); the emulator's
    # numbers are those of a kernel without CONFIG_PROVE_RAW_LOCK_NESTING.
    return {
        "mutex under two spinlocks": (run([("lock", spin), ("lock", spin2), ("lock", mx)]),
                                      "{3:3}", "{4:4}", ("{2:2}", "{2:2}")),
        "mutex under a rwlock": (run([("lock", rw), ("lock", mx)]), "{3:3}", "{4:4}", ("{2:2}",)),
        "mutex in a hardirq": (run([("hardirq_enter",), ("lock", mx)]), "{3:3}", "{2:2}", ()),
        "mutex in a softirq": (run([("softirqs_off",), ("softirq_enter",), ("lock", mx)]), "{3:3}", "{2:2}", ()),
        "double unlock": (run([("lock", mx), ("unlock", mx), ("unlock", mx)]), None, None, ()),
        "unlock under other locks": (run([("lock", mx), ("lock", spin), ("unlock", spin2)]), None, None, ()),
    }


@pytest.mark.parametrize("name", sorted(_emulator_cases()))
def test_emulator_reports_of_the_new_kinds_parse_back(name):
    report, wait_type, context, held_waits = _emulator_cases()[name]
    got = _round_trip(report, name)
    assert (got.wait_type, got.context_wait_type, got.held_wait_types) == (wait_type, context, held_waits)
    assert got.title in ("bad unlock balance detected!", "Invalid wait context")


def test_emulator_selftest_reports_of_the_new_kinds_parse_back():
    # lib/locking-selftest.c as tests/selftest_tables.py translates it: the double
    # unlocks and the wait-context tests.
    from selftest_tables import TESTS, run_events
    seen = {"bad_unlock_balance": 0, "invalid_wait_context": 0}
    for t in TESTS:
        for r in run_events(t.events, t.force_rr).reports:
            if r.kind in seen:
                got = _round_trip(r, t.name)
                seen[r.kind] += 1
                if r.kind == "invalid_wait_context":
                    assert got.wait_type is not None and got.context_wait_type is not None
                    assert len(got.held_wait_types) == got.locks_held_count
    assert min(seen.values()) >= 3, seen


def test_model_reports_of_the_new_kinds_parse_back():
    # The path a lesson takes: a model replayed and watched by the emulator.
    from labkit.lockdep import Lockdep
    from labkit.model import Model, line, mutex_lock, mutex_unlock, spin_lock, spin_unlock
    from labkit.trace import replay
    m = Model("t", "handler sleeps")
    m.mutex("mx", cls="&dev->mutex")
    m.func("task", [line("idle();")])
    m.func("handler", [mutex_lock("mx"), mutex_unlock("mx")])
    m.cpu("CPU0", "task")
    m.interrupt("CPU0", "handler")
    (r,) = Lockdep().observe(replay(m.build(), "CPU0.irq*")).reports
    got = _round_trip(r, "handler sleeps")
    assert (got.kind, got.acquiring_lock, got.context_wait_type) == ("invalid_wait_context", "&dev->mutex", "{2:2}")
    m = Model("t", "double unlock")
    m.spinlock("L", cls="&dev->lock")
    m.func("task", [spin_lock("L"), spin_unlock("L"), spin_unlock("L")])
    m.cpu("CPU0", "task")
    (r,) = Lockdep().observe(replay(m.build(), "CPU0 CPU0 CPU0")).reports
    got = _round_trip(r, "double unlock")
    assert (got.kind, got.acquiring_lock, got.locks_held_count) == ("bad_unlock_balance", "&dev->lock", 0)


def test_the_parser_reads_every_kind_the_emulator_prints():
    from labkit.lockdep import REPORT_KINDS
    assert set(REPORT_KINDS) == set(KINDS)
