"""sluice on Airflow: one ingest+merge tick every 5 minutes.

`sluice run --report -` prints the JSON run report (docs/operations.md) on
stdout, which Airflow keeps as the task's XCom (do_xcom_push, last line
only, so the report is printed compactly with `| jq -c .`), and logs on
stderr, which go to the task log.

Retries: only exit code 3 (a transient failure: Kafka or S3 unreachable, a
lost commit race) is worth retrying, with exponential backoff. Exit 2 (bad
config), 4 (too many dead letters: committed work is kept, a human looks at
the dead-letter table) and 5 (needs an operator, e.g. a backfill) would fail
the same way again, so SluiceOperator turns them into AirflowFailException,
which Airflow never retries. Retrying any sluice job is always safe: commits
are atomic and offsets live in the lake, so nothing is lost or doubled.

Exit code 6: another run of the same job holds its lease in the lake (an
earlier task still running, a cron tick, a `sluice schedule` daemon); sluice
did nothing. SluiceOperator marks the task skipped.

Needs Airflow 2.4+ (BashOperator, AirflowFailException).
"""

import re
from datetime import datetime, timedelta

from airflow import DAG
from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from airflow.operators.bash import BashOperator

SLUICE = "/usr/local/bin/sluice"
CONFIG = "/etc/sluice/sluice.yaml"
RETRYABLE = 3  # jobs.ExitRetryable
LEASE_HELD = 6  # jobs.ExitLeaseHeld: another run holds the job's lease


class SluiceOperator(BashOperator):
    """Runs a sluice command; lets Airflow retry only exit code 3 and skips
    the task on exit code 6."""

    def __init__(self, **kwargs):
        # Airflow skips the task on exit 99 by default; sluice never uses 99.
        # Exit 6 means the job runs elsewhere right now: a skip, not a failure.
        kwargs.setdefault("skip_on_exit_code", LEASE_HELD)
        super().__init__(**kwargs)

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowSkipException:
            raise  # exit 6 (a subclass of AirflowException: let it through)
        except AirflowException as err:
            # BashOperator: "Bash command failed. The command returned a
            # non-zero exit code N."
            m = re.search(r"exit code (\d+)", str(err))
            code = int(m.group(1)) if m else 1
            if code == RETRYABLE:
                raise  # retried with exponential backoff
            raise AirflowFailException(
                f"sluice exited with code {code}: not retryable (see docs/operations.md)"
            ) from err


with DAG(
    dag_id="sluice",
    start_date=datetime(2025, 1, 1),
    schedule=timedelta(minutes=5),
    catchup=False,
    max_active_runs=1,  # ticks never overlap (overlap is safe, but wasteful)
    default_args={
        "retries": 5,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    tags=["sluice", "cdc"],
) as dag:
    # pipefail: the exit code is sluice's, not jq's.
    run = SluiceOperator(
        task_id="ingest_and_merge",
        bash_command=f"set -o pipefail; {SLUICE} run --config {CONFIG} --report - | jq -c .",
        env={"KAFKA_PASSWORD": "{{ var.value.sluice_kafka_password }}"},
        append_env=True,
        execution_timeout=timedelta(minutes=30),
    )


# Nightly compaction of the raw table's small files; safe beside running ticks.
with DAG(
    dag_id="sluice_compact",
    start_date=datetime(2025, 1, 1),
    schedule="30 3 * * *",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5), "retry_exponential_backoff": True},
    tags=["sluice", "cdc"],
) as compact_dag:
    SluiceOperator(
        task_id="compact",
        bash_command=f"set -o pipefail; {SLUICE} compact --config {CONFIG} --report - | jq -c .",
        append_env=True,
        execution_timeout=timedelta(hours=2),
    )
