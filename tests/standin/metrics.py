"""Prometheus text in vLLM's metric names for the stand-in's `/metrics`."""

from __future__ import annotations

from collections.abc import Mapping

from tests.standin.engine import Histogram, SimEngine


def _labels(model: str, extra: str = "") -> str:
    return f'{{engine="0",model_name="{model}"{extra}}}'


def _gauge(lines: list[str], name: str, help_: str, value: float, labels: str) -> None:
    lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name}{labels} {float(value)}"]


def _counter(lines: list[str], name: str, help_: str, value: float, labels: str) -> None:
    lines += [f"# HELP {name}_total {help_}", f"# TYPE {name}_total counter",
              f"{name}_total{labels} {float(value)}"]


def _histogram(lines: list[str], name: str, help_: str, hist: Histogram, model: str) -> None:
    lines += [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
    counts = hist.counts or [0] * len(hist.buckets)
    for bound, count in zip(hist.buckets, counts, strict=True):
        le = _labels(model, ',le="' + str(bound) + '"')
        lines.append(f"{name}_bucket{le} {float(count)}")
    inf = _labels(model, ',le="+Inf"')
    lines.append(f"{name}_bucket{inf} {float(hist.n)}")
    lines.append(f"{name}_count{_labels(model)} {float(hist.n)}")
    lines.append(f"{name}_sum{_labels(model)} {hist.total}")


FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")


def render_metrics(engine: SimEngine, model: str, finished: Mapping[str, int] | None = None
                   ) -> str:
    """`finished` counts answered requests by finish reason (``vllm:request_success_total``)."""
    finished = finished or {}
    counters, labels = engine.counters, _labels(model)
    lines: list[str] = []
    _gauge(lines, "vllm:num_requests_running", "Number of requests in model execution batches.",
           engine.running, labels)
    _gauge(lines, "vllm:num_requests_waiting", "Number of requests waiting to be processed.",
           engine.waiting, labels)
    _gauge(lines, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
           engine.kv_usage(), labels)
    _counter(lines, "vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of "
             "queried tokens.", counters.prefix_queries, labels)
    _counter(lines, "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached "
             "tokens.", counters.prefix_hits, labels)
    _counter(lines, "vllm:prompt_tokens", "Number of prefill tokens processed.",
             counters.prompt_tokens, labels)
    _counter(lines, "vllm:generation_tokens", "Number of generation tokens processed.",
             counters.generation_tokens, labels)
    name = "vllm:request_success_total"
    lines += [f"# HELP {name} Count of successfully processed requests.",
              f"# TYPE {name} counter"]
    for reason in FINISHED_REASONS:
        tagged = _labels(model, ',finished_reason="' + reason + '"')
        lines.append(f"{name}{tagged} {float(finished.get(reason, 0))}")
    name = "vllm:admission_rejections_total"
    lines += [f"# HELP {name} Number of admission attempts rejected by a queue limit, by "
              "reason.", f"# TYPE {name} counter"]
    for reason, value in (("max_num_queued_reqs", counters.rejections),
                          ("max_num_queued_tokens", 0)):  # vLLM omits the engine label here
        lines.append(f'{name}{{model_name="{model}",reason="{reason}"}} {float(value)}')
    config = engine.config
    lines += ["# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig",
              "# TYPE vllm:cache_config_info gauge",
              f'vllm:cache_config_info{{block_size="{config.block_size}",enable_prefix_caching='
              f'"True",engine="0",num_gpu_blocks="{engine.cache.capacity_blocks}"}} 1.0']
    _histogram(lines, "vllm:time_to_first_token_seconds", "Histogram of time to first token in "
               "seconds.", counters.ttft, model)
    _histogram(lines, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in "
               "seconds.", counters.e2e, model)
    _histogram(lines, "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING "
               "phase for request.", counters.queue_time, model)
    return "\n".join(lines) + "\n"
