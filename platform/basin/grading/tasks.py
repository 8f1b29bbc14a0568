"""Celery tasks of the grading worker: thin, they take an id and call a service. Their names and
queues are basin.dispatch's; nothing imports a task to send it."""
import logging

from celery import shared_task
from celery.signals import worker_ready

from basin import dispatch
from basin.submissions import runs

from . import services

log = logging.getLogger(__name__)


def sweep_this_host() -> None:
    """Remove this Basin's orphaned sandbox containers from the Docker engine this worker uses.
    Each grading machine has its own engine, which only its own workers reach: so each worker
    sweeps when it starts (after a crash, say) and before each run, besides the watchdog's sweep."""
    from .watchdog import remove_orphaned_containers

    try:
        removed = remove_orphaned_containers()
    except Exception:  # a sweep that fails must not keep a submission from being graded
        log.exception("could not sweep orphaned sandbox containers")
        return
    if removed:
        log.warning("removed %s orphaned sandbox container(s) from this host's Docker engine", removed)


@worker_ready.connect
def _recover_at_start(sender=None, **kwargs) -> None:
    """What this worker's previous process left: the runs it held (given back first, so that their
    containers are orphans), then its containers."""
    hostname = getattr(sender, "hostname", None)  # the consumer's: this worker's Celery name
    if hostname:
        try:
            released = runs.release_held_by(services.worker_name(hostname))
        except Exception:  # the database may be down at start; the watchdog still ends those leases
            log.exception("could not release the runs this worker held before it restarted")
        else:
            if released:
                log.warning("queued again %s run(s) this worker held when its previous process ended", released)
    sweep_this_host()  # a worker without the Docker socket (the general one) finds no engine: nothing to do


# Each task also names its queue, so a task sent some other way than basin.dispatch (a shell, a
# retry from Celery's own tools) still lands where dispatch would put it.
@shared_task(name=dispatch.GRADE, queue=dispatch.QUEUE_OF[dispatch.GRADE],
             acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def score_run(run_id: int) -> None:
    sweep_this_host()
    services.grade(run_id)


@shared_task(name=dispatch.DIAGNOSE, queue=dispatch.QUEUE_OF[dispatch.DIAGNOSE],
             acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def diagnose_run(run_id: int) -> None:
    from . import diagnostics

    sweep_this_host()
    diagnostics.diagnose(run_id)


@shared_task(name=dispatch.WATCHDOG, queue=dispatch.QUEUE_OF[dispatch.WATCHDOG], ignore_result=True)
def watchdog() -> None:
    from .watchdog import run_watchdog

    run_watchdog()
