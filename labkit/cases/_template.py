"""TEMPLATE for a new case (see docs/AUTHORING.md): a made-up driver, not a real bug.

Copy this file to ``labkit/cases/<your_case_id>.py``, add the id to
``KERNEL_CASES`` in ``labkit/cases/__init__.py``, and replace everything
below with the real story. This docstring is what ``lab.story`` and
``cases --json`` quote for "what the model leaves out", so keep its last
paragraph honest.

The example: ``foo_ioctl()`` takes ``foo->dev_lock`` and then
``foo->ctx_lock``; ``foo_release()``, run when the file is closed, takes
them the other way round. Two threads of one process, one in the ioctl and
one closing the file, deadlock (ABBA). The fix takes the two locks in one
order everywhere.

What the model leaves out, and why: this is the template's made-up driver,
so there is nothing real to leave out. In your case say which kernel code
each variant follows (file, version), which paths and error exits are not
modelled, and why none of them changes a lock order.
"""

from __future__ import annotations

from functools import partial

from labkit.cases.base import Case, Exercise, Fix, Variant, leaves_out
from labkit.model import Model, mutex_lock, mutex_unlock, step

__all__ = ["CASE", "build"]

CASE_ID = "template_abba"      # your case id: the file name, lower case, no spaces


# --- the model: one function per variant builder, the real names, one line per step ---------

def build(variant: str):
    m = Model(CASE_ID, variant, "foo driver: dev_lock vs ctx_lock (template)")
    m.mutex("foo->dev_lock", cls="&foo->dev_lock")       # cls = the lockdep class name
    m.mutex("foo->ctx_lock", cls="&foo->ctx_lock")
    m.func("foo_ioctl", [
        mutex_lock("foo->dev_lock"),
        step("foo_check_device(foo);"),                   # a step: one pseudo-C line of work
        mutex_lock("foo->ctx_lock"),
        step("foo->ctx->state = FOO_RUNNING;"),
        mutex_unlock("foo->ctx_lock"),
        mutex_unlock("foo->dev_lock"),
    ])
    if variant == "before":                               # the bug: the other order
        release = [mutex_lock("foo->ctx_lock"), step("foo_ctx_teardown(foo->ctx);"),
                   mutex_lock("foo->dev_lock"), step("foo->open_count--;"),
                   mutex_unlock("foo->dev_lock"), mutex_unlock("foo->ctx_lock")]
    else:                                                 # the fix: dev_lock first, as in the ioctl
        release = [mutex_lock("foo->dev_lock"), mutex_lock("foo->ctx_lock"),
                   step("foo_ctx_teardown(foo->ctx);"), step("foo->open_count--;"),
                   mutex_unlock("foo->ctx_lock"), mutex_unlock("foo->dev_lock")]
    m.func("foo_release", release)
    # Each cpu: the function it runs, the task (comm, pid) and the call stack above it.
    m.cpu("CPU0", "foo_ioctl", comm="foo-app", pid=1000, stack=("system_call", "sys_ioctl"))
    m.cpu("CPU1", "foo_release", comm="foo-app", pid=1001, stack=("system_call", "sys_close", "__fput"))
    return m.build()


# --- the case: story, variants, the fix, exercises -------------------------------------------

CASE = Case(
    CASE_ID,
    "Template: foo_ioctl() and foo_release() take dev_lock and ctx_lock in opposite orders",
    "The ioctl takes dev_lock then ctx_lock; release takes ctx_lock then dev_lock. Two threads of one "
    "process, one in the ioctl and one closing the file, deadlock. (A made-up driver: the template.)",
    (Variant("before", "release takes ctx_lock first", partial(build, "before"), expect="deadlock"),
     Variant("after", "one order: dev_lock, then ctx_lock", partial(build, "after"), expect="nothing")),
    fix=Fix("foo: take dev_lock before ctx_lock in foo_release()", status="unverified",
            note="template: name the real commit (12-digit id and subject) and set status='merged' once checked"),
    kernels="none: a made-up driver (say which kernel versions your case describes)",
    simplifications=leaves_out(__doc__),
    exercises=(
        Exercise(1, "schedule", "before", title="Deadlock the ioctl and the release",
                 answer="CPU0 CPU0 CPU1 CPU1 CPU0 CPU1",
                 explain="CPU0 must hold dev_lock and CPU1 ctx_lock before either asks for the other one.",
                 wrong=("CPU0* CPU1*", "CPU1* CPU0*")),
        Exercise(2, "verdict", "after", title="Predict: what does the explorer find in 'after'?",
                 answer="clean", explain="Both paths take dev_lock first: no cycle, in any interleaving.",
                 wrong=("deadlock",)),
    ),
)
