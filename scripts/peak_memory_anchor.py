"""Peak resident memory of one anchor workload, run alone in this process (for bench-memory.sh).

Usage: python peak_memory_anchor.py IMPL WORKLOAD   IMPL: torch, jax or onnxruntime
Prints one JSON line {"workload", "impl", "peak_rss_mb", "baseline_rss_mb"}: the peak resident set
of the workload's timing loop (the kernel's high-water mark VmHWM, reset before the warm-up after
malloc_trim, as deep-bench measures its own), and the resident set after the imports alone (what
the runtime costs before any tensor). torch and jax run the timing functions
of ../shared/bench/torch_bench.py and jax_bench.py (jax_bench.py imports torch to make its weights);
onnxruntime loads the model ort_bench.py exported to /tmp/deepstitch-onnx/WORKLOAD.onnx (run
ort_bench.py once first) in a process that imports only onnxruntime and numpy, and times it the same way.
"""
import ctypes, json, os, sys

impl, name = sys.argv[1], sys.argv[2]
bench = os.environ.get('BENCH_DIR', os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'bench'))
sys.path.insert(0, os.path.abspath(bench))


def status_mb(field):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':')) / 1024


def rss_mb():
    return status_mb('VmRSS')


def reset_peak():
    ctypes.CDLL('libc.so.6').malloc_trim(0)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def measured(timeit):
    """`timeit` with the high-water mark reset before its warm-up."""
    def wrapped(fn, *args, **kwargs):
        reset_peak()
        return timeit(fn, *args, **kwargs)
    return wrapped


if impl == 'onnxruntime':
    import numpy as np
    import onnxruntime as ort
    baseline = rss_mb()
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(f'/tmp/deepstitch-onnx/{name}.onnx', so, providers=['CPUExecutionProvider'])
    shape = [1, 3, 224, 224] if name == 'resnet18_infer_b1' else [32, 3, 32, 32]
    feed = {'x': np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    reset_peak()
    for _ in range(30):
        sess.run(None, feed)
elif impl == 'torch':
    import torch_bench
    torch_bench.timeit = measured(torch_bench.timeit)
    baseline = rss_mb()
    torch_bench.WORKLOADS[name]()
elif impl == 'torch-inference':
    import torch
    import ort_bench
    baseline = rss_mb()
    model, x = ort_bench.make(name)
    reset_peak()
    with torch.inference_mode():
        for _ in range(30):
            model(x)
elif impl == 'jax':
    import jax_bench
    jax_bench.timeit = measured(jax_bench.timeit)
    baseline = rss_mb()
    (jax_bench.run_op if name in jax_bench.OPS else jax_bench.run_train)(name, False)
else:
    sys.exit(f'unknown implementation {impl}; use torch, torch-inference, jax or onnxruntime')
peak = status_mb('VmHWM')
print(json.dumps({'workload': name, 'impl': impl, 'peak_rss_mb': round(peak, 1), 'baseline_rss_mb': round(baseline, 1)}))
