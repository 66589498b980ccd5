"""The leader's commit statistics and Kafka's summary line, as TestRaftServer computes them.

Kafka measures with its metrics library at the default ``MetricConfig``
(2 samples of 30 s):

* latency: ``Percentiles(1000 bytes, max 250, CONSTANT)`` — 250 buckets of
  1 ms over [0, 250), larger values in the last bucket; a percentile is the
  lower edge of the first bucket where the cumulative fraction of samples
  exceeds it; NaN without samples;
* throughput: a ``Meter``'s rate of committed bytes per second, over the
  retained samples, with the window counted as at least one full sample
  period plus the elapsed part (so it under-estimates during the first 30 s).

Every 5 s (checked as commits are recorded) the line
``Throughput (bytes/second): %.2f, Latency (ms): %.1f p75 %.1f p99 %.1f p999``
is produced.
"""
from __future__ import annotations

import math
from typing import Optional

SAMPLES = 2
WINDOW_MS = 30_000
BUCKETS = 250
MAX_LATENCY_MS = 250.0
REPORT_INTERVAL_MS = 5_000


class _Sample:
    __slots__ = ("window_start_ms", "events", "total", "histogram")

    def __init__(self, now_ms: float, histogram: bool):
        self.histogram = [0] * BUCKETS if histogram else None
        self.reset(now_ms)

    def reset(self, now_ms: float) -> None:
        self.window_start_ms = now_ms
        self.events = 0
        self.total = 0.0
        if self.histogram is not None:
            self.histogram[:] = [0] * BUCKETS


class _SampledStat:
    """Kafka's SampledStat: a ring of ``SAMPLES`` windows of ``WINDOW_MS``."""

    _histogram = False

    def __init__(self):
        self._samples: list[_Sample] = []
        self._current = 0

    def _sample_for(self, now_ms: float) -> _Sample:
        if not self._samples:
            self._samples.append(_Sample(now_ms, self._histogram))
        sample = self._samples[self._current]
        if now_ms - sample.window_start_ms >= WINDOW_MS:
            self._current = (self._current + 1) % SAMPLES
            if self._current >= len(self._samples):
                sample = _Sample(now_ms, self._histogram)
                self._samples.append(sample)
            else:
                sample = self._samples[self._current]
                sample.reset(now_ms)
        return sample

    def _purge(self, now_ms: float) -> None:
        for sample in self._samples:
            if now_ms - sample.window_start_ms >= SAMPLES * WINDOW_MS:
                sample.reset(now_ms)


class SampledHistogram(_SampledStat):
    """Kafka's ``Percentiles`` with 250 constant 1 ms buckets over [0, 250)."""

    _histogram = True

    def record(self, value: float, now_ms: float, count: int = 1) -> None:
        """Record ``count`` samples of ``value`` (one bucket update for the lot)."""
        sample = self._sample_for(now_ms)
        sample.events += count
        bucket = int(value / (MAX_LATENCY_MS / BUCKETS)) if value > 0 else 0
        sample.histogram[bucket if bucket < BUCKETS else BUCKETS - 1] += count

    def percentile(self, quantile: float, now_ms: float) -> float:
        """Kafka's Percentiles value for ``quantile`` in [0, 1]."""
        self._purge(now_ms)
        count = sum(s.events for s in self._samples)
        if count == 0:
            return math.nan
        cumulative = 0
        for bucket in range(BUCKETS):
            for sample in self._samples:
                cumulative += sample.histogram[bucket]
                if cumulative / count > quantile:
                    return bucket * (MAX_LATENCY_MS / BUCKETS)
        return math.inf


class SampledRate(_SampledStat):
    """Kafka's ``Rate`` over a ``WindowedSum``, per second (a ``Meter``'s rate)."""

    def record(self, value: float, now_ms: float, count: int = 1) -> None:
        """Record ``count`` events totalling ``value``."""
        sample = self._sample_for(now_ms)
        sample.events += count
        sample.total += value

    def rate_per_second(self, now_ms: float) -> float:
        self._purge(now_ms)
        if not self._samples:
            self._samples.append(_Sample(now_ms, False))
        total = sum(s.total for s in self._samples)
        elapsed = now_ms - min(s.window_start_ms for s in self._samples)
        full_windows = int(elapsed // WINDOW_MS)
        if full_windows < SAMPLES - 1:
            elapsed += (SAMPLES - 1 - full_windows) * WINDOW_MS
        return total / (elapsed / 1000.0)


def _java_float(value: float, digits: int) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.{digits}f}"


def summary_line(throughput: float, p75: float, p99: float, p999: float) -> str:
    """Kafka's summary line, number before label."""
    return (f"Throughput (bytes/second): {_java_float(throughput, 2)}, Latency (ms): {_java_float(p75, 1)} p75 "
            f"{_java_float(p99, 1)} p99 {_java_float(p999, 1)} p999")


class LatencyHistogram:
    """Every commit latency of a whole run, in whole-ms buckets without an upper bound.

    Unlike Kafka's windowed ``Percentiles`` it forgets nothing; the test
    server writes it with ``--latency-histogram FILE`` when it stops.
    """

    def __init__(self):
        self.counts: dict[int, int] = {}
        self.total = 0

    def record(self, latency_ms: float, count: int = 1) -> None:
        bucket = max(0, int(latency_ms))
        self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.total += count

    def csv(self) -> str:
        """``latency_ms,count,cumulative_fraction``, one row per non-empty 1 ms bucket."""
        lines = ["latency_ms,count,cumulative_fraction"]
        cumulative = 0
        for bucket in sorted(self.counts):
            cumulative += self.counts[bucket]
            lines.append(f"{bucket},{self.counts[bucket]},{cumulative / self.total:.6f}")
        return "\n".join(lines) + "\n"


class CommitStats:
    """Per-record commit latency and committed bytes; a summary line every 5 s."""

    def __init__(self, now_ms: float):
        self.latency = SampledHistogram()
        self.throughput = SampledRate()
        self._last_report_ms = now_ms
        #: when set, every latency is also kept here for the whole run
        self.whole_run: Optional[LatencyHistogram] = None

    def record(self, latency_ms: float, size: int, now_ms: float) -> Optional[str]:
        """Record one committed record; return the summary line when one is due."""
        return self._record(latency_ms, size, now_ms, 1)

    def record_many(self, latency_ms: float, size: int, now_ms: float, count: int) -> Optional[str]:
        """Record ``count`` committed records of ``size`` bytes, each with ``latency_ms``, at once.

        A subclass that overrides :meth:`record` (to see every record) gets
        one :meth:`record` call per record instead.
        """
        if type(self).record is not CommitStats.record:
            line = None
            for _ in range(count):
                line = self.record(latency_ms, size, now_ms) or line
            return line
        return self._record(latency_ms, size, now_ms, count)

    def _record(self, latency_ms: float, size: int, now_ms: float, count: int) -> Optional[str]:
        self.latency.record(max(0, int(latency_ms)), now_ms, count)
        self.throughput.record(size * count, now_ms, count)
        if self.whole_run is not None:
            self.whole_run.record(latency_ms, count)
        if now_ms - self._last_report_ms >= REPORT_INTERVAL_MS:
            self._last_report_ms = now_ms
            return self.summary(now_ms)
        return None

    def summary(self, now_ms: float) -> str:
        return summary_line(self.throughput.rate_per_second(now_ms), self.latency.percentile(0.75, now_ms),
                            self.latency.percentile(0.99, now_ms), self.latency.percentile(0.999, now_ms))


class Throttle:
    """TestRaftServer's pacing: the n-th record since the claim is due at ``start + n / rate`` s."""

    def __init__(self, records_per_second: int, start_ms: float):
        self.records_per_second = records_per_second
        self.start_ms = start_ms

    def due(self, now_ms: float) -> int:
        """How many records are due by ``now_ms`` in all (the largest n whose delay is 0)."""
        # delay_ms rounds each record's time to a whole millisecond, so every record whose time rounds
        # to the last whole millisecond passed is due: start from that estimate (not from the exact
        # time, which at high rates left a loop of up to rate/1000 steps per call), then settle
        elapsed = math.floor(now_ms - self.start_ms)
        n = max(0, int((elapsed + 0.5) * self.records_per_second // 1000))
        while self.delay_ms(n + 1, now_ms) == 0:
            n += 1
        while n > 0 and self.delay_ms(n, now_ms) > 0:
            n -= 1
        return n

    def delay_ms(self, count: int, now_ms: float) -> float:
        """How long to wait before sending record number ``count`` (0 = send now)."""
        target = round(count / self.records_per_second * 1000)
        if target > 0 and self.start_ms + target > now_ms:
            return self.start_ms + target - now_ms
        return 0.0
