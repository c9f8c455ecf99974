"""pgbench per-transaction log parsing and the figures of a run, from hand-written logs."""

from __future__ import annotations

import pytest
from ansible_collections.sre.platform.plugins.module_utils.pgbench_log import (
    PgbenchLogError,
    Transaction,
    log_files,
    parse_line,
    read_logs,
    summarize,
)

EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z


def _line(client: int, number: int, latency, end_s: int, end_us: int, script: int = 0) -> str:
    return f"{client} {number} {latency} {script} {EPOCH + end_s} {end_us}\n"


def test_parse_line_reads_latency_and_end_time():
    assert parse_line("3 17 4883 0 1700000001 296238", "x") == Transaction(1_700_000_001_296_238, 4883, "ok")
    assert parse_line("3 18 failed 0 1700000001 5 0 2", "x") == Transaction(1_700_000_001_000_005, None, "failed")
    assert parse_line("3 19 skipped 1 1700000001 7", "x").outcome == "skipped"
    assert parse_line("3 20 812 2 1700000001 9", "x").script == 2


@pytest.mark.parametrize("line", ["1 2 3", "a b c d e f", "1 2 fast 0 1700000000 5"])
def test_parse_line_refuses_garbage_naming_the_place(line):
    with pytest.raises(PgbenchLogError, match=r"pgbench_log\.1234:7"):
        parse_line(line, "pgbench_log.1234:7")


def test_log_files_combines_every_thread(tmp_path):
    prefix = tmp_path / "run[1]"
    for suffix in (".42", ".42.1", ".42.2"):
        (tmp_path / f"run[1]{suffix}").write_text(_line(0, 1, 1000, 1, 0))
    (tmp_path / "other.42").write_text("")
    assert [p.rsplit("/", 1)[1] for p in log_files(str(prefix))] == ["run[1].42", "run[1].42.1", "run[1].42.2"]
    assert len(read_logs(log_files(str(prefix)))) == 3


def test_read_logs_without_files_fails():
    with pytest.raises(PgbenchLogError, match="no per-transaction log"):
        read_logs([])


def _run(tmp_path) -> list[Transaction]:
    """Two threads; the load starts at EPOCH + 0.5 s (first start = end - latency)."""
    (tmp_path / "b.1").write_text(
        _line(0, 1, 500_000, 1, 0)  # started at 0.5 s, ended 1.0 s: warm-up
        + _line(0, 2, 10_000, 2, 0)  # ended 2.0 s
        + _line(0, 3, "failed", 2, 500_000)  # ended 2.5 s
        + _line(0, 4, 30_000, 3, 250_000)  # ended 3.25 s
    )
    (tmp_path / "b.1.1").write_text(
        _line(1, 1, 20_000, 2, 100_000)  # ended 2.1 s
        + _line(1, 2, 40_000, 3, 500_000)  # ended 3.5 s: last
    )
    return read_logs(log_files(str(tmp_path / "b")))


def test_summarize_without_warmup(tmp_path):
    result = summarize(_run(tmp_path), duration_s=3)
    assert result["transactions"] == 5
    assert result["failed_transactions"] == 1
    assert result["error_rate_percent"] == pytest.approx(100 / 6)
    assert result["window_start_epoch"] == EPOCH + 0.5
    assert result["window_end_epoch"] == EPOCH + 3.5
    assert result["window_seconds"] == 3.0
    assert result["tps"] == pytest.approx(5 / 3)
    assert result["latency_p50_ms"] == 30.0  # sorted 10 20 30 40 500: rank 3
    assert result["latency_max_ms"] == 500.0


def test_summarize_drops_the_warmup(tmp_path):
    result = summarize(_run(tmp_path), duration_s=3, warmup_s=1)
    assert result["warmup_transactions"] == 1
    assert result["transactions"] == 4
    assert result["failed_transactions"] == 1
    assert result["error_rate_percent"] == 20.0
    assert result["window_start"] == "2023-11-14T22:13:21.500000Z"
    assert result["window_end"] == "2023-11-14T22:13:23.500000Z"
    assert result["tps"] == 2.0
    assert result["latency_avg_ms"] == 25.0
    assert (result["latency_p50_ms"], result["latency_p95_ms"], result["latency_p99_ms"]) == (20.0, 40.0, 40.0)
    # Seconds from the window start (1.5 s), by end time: 2.0 and 2.1 s in second 0, 3.25 in 1, and 3.5, the
    # window's end, in its last second too (no second 2 of one instant).
    assert result["timeseries"] == [
        {"second": 0, "transactions": 2, "latency_p50_ms": 10.0, "latency_p99_ms": 20.0},
        {"second": 1, "transactions": 2, "latency_p50_ms": 30.0, "latency_p99_ms": 40.0},
    ]


def test_summarize_refuses_a_warmup_longer_than_the_run(tmp_path):
    with pytest.raises(PgbenchLogError, match=r"the warm-up \(10 s\) must be shorter than the run \(3 s\)"):
        summarize(_run(tmp_path), duration_s=3, warmup_s=10)


def test_a_run_in_which_every_transaction_failed_has_a_100_percent_error_rate():
    failed = [Transaction(EPOCH * 1_000_000 + end_ms * 1000, None, "failed") for end_ms in range(100, 2000, 100)]
    result = summarize(failed, duration_s=2, launched_us=EPOCH * 1_000_000)
    assert (result["transactions"], result["failed_transactions"], result["error_rate_percent"]) == (0, 19, 100.0)
    assert result["tps"] == 0.0
    assert result["latency_p99_ms"] is None and result["latency_avg_ms"] is None
    assert result["timeseries"][0] == {"second": 0, "transactions": 0, "latency_p50_ms": None, "latency_p99_ms": None}
    assert result["by_script"][0]["error_rate_percent"] == 100.0


def test_a_window_in_which_nothing_finished_has_no_figures(tmp_path):
    """The last transaction ended 3.5 s after the launch, before a 4 s warm-up was over."""
    with pytest.raises(PgbenchLogError, match="no transaction finished in the measured window after the 4 s warm-up"):
        summarize(_run(tmp_path), duration_s=5, warmup_s=4, launched_us=EPOCH * 1_000_000)


def _throttled(*ends_s: float, latency_us: int = 1000) -> list[Transaction]:
    """One client under -R: short transactions ending at these seconds after EPOCH, idle in between."""
    return [Transaction(EPOCH * 1_000_000 + round(end * 1_000_000), latency_us, "ok") for end in ends_s]


def test_the_window_is_the_run_after_the_warmup_idle_time_included():
    """pgbench -T 4 -R 1 started at EPOCH: three transactions, the client idle the rest of the time."""
    transactions = _throttled(0.5, 1.6, 2.1)
    result = summarize(transactions, duration_s=4, launched_us=EPOCH * 1_000_000)
    assert (result["window_start_epoch"], result["window_end_epoch"]) == (EPOCH, EPOCH + 4)
    assert result["window_seconds"] == 4.0
    assert result["tps"] == 0.75, "3 transactions in 4 s, not over the 1.6 s from the first to the last"
    warm = summarize(transactions, duration_s=4, warmup_s=1, launched_us=EPOCH * 1_000_000)
    assert (warm["window_start_epoch"], warm["window_seconds"]) == (EPOCH + 1, 3.0)
    assert (warm["transactions"], warm["warmup_transactions"], warm["tps"]) == (2, 1, 2 / 3)
    assert [s["tps"] for s in warm["by_script"]] == [2 / 3]


def test_a_single_transaction_counts_over_the_whole_run():
    """pgbench -T 1 -R 1 -c 1: one transaction of 4.2 ms was once reported as 237.8 TPS."""
    result = summarize(_throttled(0.3, latency_us=4200), duration_s=1, launched_us=EPOCH * 1_000_000)
    assert (result["transactions"], result["window_seconds"], result["tps"]) == (1, 1.0, 1.0)


def test_a_stall_at_the_end_stays_in_the_window_without_the_runs_start():
    """Logs of a run made elsewhere (no start known): the run is taken to start at the first transaction."""
    result = summarize(_throttled(1.0, 1.5, 2.0, latency_us=500_000), duration_s=5)
    assert result["window_start_epoch"] == EPOCH + 0.5, "the earliest transaction start (end minus latency)"
    assert result["window_end_epoch"] == EPOCH + 5.5, "the duration after it, though nothing ended after 2 s"
    assert result["tps"] == 3 / 5


def test_transactions_finishing_after_the_duration_extend_the_window():
    """pgbench lets the transactions in flight at the end finish: they count, over the time they took."""
    result = summarize(_throttled(0.5, 2.3, latency_us=600_000), duration_s=2, launched_us=EPOCH * 1_000_000)
    assert (result["window_end_epoch"], result["window_seconds"], result["transactions"]) == (EPOCH + 2.3, 2.3, 2)


def test_the_last_transaction_start_pins_the_start_of_an_unthrottled_run():
    """pgbench starts no transaction after -T is over: with one started at 2.25 s the 2 s run cannot have
    started before 0.25 s, however early it was launched (its set-up and connections took that long)."""
    busy = [Transaction(EPOCH * 1_000_000 + end_ms * 1000, 50_000, "ok") for end_ms in range(300, 2301, 50)]
    result = summarize(busy, duration_s=2, launched_us=EPOCH * 1_000_000)
    assert (result["window_start_epoch"], result["window_end_epoch"]) == (EPOCH + 0.25, EPOCH + 2.3)
    assert result["tps"] == pytest.approx(41 / 2.05)


def test_every_second_of_the_window_is_in_the_series_an_outage_with_no_transaction():
    """A lock held from 0.6 s to 4.1 s of a 6 s run: the seconds without a completion are there, empty."""
    ends = (0.2, 0.4, 4.1, 4.15, 4.2, 5.5)
    result = summarize(_throttled(*ends, latency_us=100_000), duration_s=6, launched_us=EPOCH * 1_000_000)
    series = result["timeseries"]
    assert [point["second"] for point in series] == [0, 1, 2, 3, 4, 5]
    assert [point["transactions"] for point in series] == [2, 0, 0, 0, 3, 1]
    assert series[1] == {"second": 1, "transactions": 0, "latency_p50_ms": None, "latency_p99_ms": None}
    assert series[4]["latency_p99_ms"] == 100.0


def test_summarize_gives_each_scripts_figures_over_the_same_window(tmp_path):
    (tmp_path / "m.1").write_text(
        _line(0, 1, 400_000, 1, 0, script=1)  # warm-up (load starts at 0.6 s)
        + _line(0, 2, 10_000, 2, 0, script=0)
        + _line(0, 3, 30_000, 2, 200_000, script=0)
        + _line(0, 4, 200_000, 2, 400_000, script=1)
        + _line(0, 5, "failed", 2, 600_000, script=1)
        + _line(0, 6, 20_000, 3, 0, script=0)
        + _line(0, 7, 5_000, 3, 600_000, script=3)  # a number beyond the names given
    )
    result = summarize(
        read_logs(log_files(str(tmp_path / "m"))), 3, warmup_s=1, scripts=["read.sql", "write.sql", "idle.sql"]
    )
    # Window: 1.6 s .. 3.6 s, 2 s long.
    read, write, idle, unnamed = result["by_script"]
    assert read == {
        "script": "read.sql",
        "transactions": 3,
        "failed_transactions": 0,
        "error_rate_percent": 0.0,
        "tps": 1.5,
        "latency_avg_ms": 20.0,
        "latency_p50_ms": 20.0,
        "latency_p95_ms": 30.0,
        "latency_p99_ms": 30.0,
        "latency_max_ms": 30.0,
    }
    assert (write["script"], write["transactions"], write["failed_transactions"]) == ("write.sql", 1, 1)
    assert (write["error_rate_percent"], write["tps"], write["latency_p99_ms"]) == (50.0, 0.5, 200.0)
    assert idle == {
        "script": "idle.sql",
        "transactions": 0,
        "failed_transactions": 0,
        "error_rate_percent": 0.0,
        "tps": 0.0,
        **dict.fromkeys(("latency_avg_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms")),
    }
    assert (unnamed["script"], unnamed["transactions"], unnamed["latency_max_ms"]) == ("script 3", 1, 5.0)
    # The scripts add up to the whole run.
    assert sum(s["transactions"] for s in result["by_script"]) == result["transactions"] == 5
