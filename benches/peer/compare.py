"""Times dex-sim's compiled kernel and cascade's mirror scenario, interleaved, on one core.

Called by run.sh (which pins the process to one core and sets up the environment); see
README.md beside this file. dex-sim is driven through its own code: its configuration
loader, trader pool, path generator and `run_models`, with the kernel
(`_run_simulation_loop_numba_columnar`) wrapped by a timer, so what is timed is exactly the
call dex-sim makes. Its JIT compile is excluded by a warm-up call before the first pair.
cascade is timed as a whole process (`cascade run ... --threads 1`), start-up and
configuration included, divided by its number of runs. Each pair times both tools on both
margin models with the same seed number (each tool draws its own paths from it).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import types


def load_dexsim(checkout):
    """Imports dex-sim's engine and experiment manager without its output modules.

    experiment_manager imports the Zarr writer, the summary and the Plotly dashboards at
    module level; none of them is called here, so they are stood in for by empty modules and
    their dependencies (zarr, pandas, plotly, matplotlib) need not be installed.
    """
    sys.path.insert(0, os.path.join(checkout, "src"))
    for name, attrs in {
        "dex_sim.results_io": ("save_results", "load_results"),
        "dex_sim.summary": ("generate_summary",),
        "dex_sim.plotting": ("plot_all",),
    }.items():
        mod = types.ModuleType(name)
        for a in attrs:
            setattr(mod, a, None)
        sys.modules[name] = mod
    import dex_sim.engine as engine
    import dex_sim.experiment_manager as manager

    return engine, manager


class Timed:
    """Wraps a function and keeps the wall time of its last call."""

    def __init__(self, f):
        self.f = f
        self.last = None

    def __call__(self, *a, **k):
        t0 = time.perf_counter()
        out = self.f(*a, **k)
        self.last = time.perf_counter() - t0
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dexsim", required=True, help="dex-sim checkout")
    ap.add_argument("--cascade", required=True, help="cascade binary")
    ap.add_argument("--repo", required=True, help="cascade repository root")
    ap.add_argument("--pairs", type=int, default=9)
    ap.add_argument("--dexsim-paths", type=int, default=100,
                    help="dex-sim paths per timed kernel call (its config's `paths`: 100)")
    ap.add_argument("--cascade-runs", type=int, default=4, help="cascade runs per timed process")
    ap.add_argument("--traders", type=int, default=2000)
    ap.add_argument("--horizon", type=int, default=7200, help="steps (one-minute blocks)")
    ap.add_argument("--seed", type=int, default=1000)
    args = ap.parse_args()
    if args.traders % 2:
        sys.exit("--traders must be even (dex-sim's pool is symmetric; cascade's mirror halves it)")

    import numpy as np
    import yaml

    engine, manager = load_dexsim(args.dexsim)
    kernel = Timed(engine._run_simulation_loop_numba_columnar)
    engine._run_simulation_loop_numba_columnar = kernel
    gen = Timed(engine.MCReturnsGenerator.generate_paths)
    engine.MCReturnsGenerator.generate_paths = lambda self, n=None: gen(self, n)

    cfg_path = os.path.join(args.dexsim, "config", "aes_vs_fxd_test.yaml")
    with open(cfg_path) as f:
        cfg = yaml.safe_load(f)
    cfg["traders"]["count"] = args.traders
    pool = manager.build_trader_pool(cfg)
    models = {m.name: m for m in (manager.build_model(mc) for mc in cfg["models"])}
    garch = os.path.join(args.dexsim, cfg["garch_params"])
    # (dex-sim model, cascade scenario)
    pairs_of = [
        ("FXD_20x", "configs/bench/dexsim_fixed.toml"),
        ("AES_es99", "configs/bench/dexsim_vol.toml"),
    ]
    for name, _ in pairs_of:
        if name not in models:
            sys.exit(f"dex-sim config {cfg_path} has no model {name}")

    devnull = open(os.devnull, "w")

    def dexsim(name, seed, paths, horizon):
        np.random.seed(seed)
        real = sys.stdout
        sys.stdout = devnull  # run_models prints a line per model
        try:
            engine.run_models(
                models=[models[name]],
                trader_pool=pool,
                trader_pool_config=cfg["traders"],
                num_paths=paths,
                horizon=horizon,
                initial_price=cfg["initial_price"],
                stress_factor=cfg["stress_factor"],
                garch_params_file=garch,
            )
        finally:
            sys.stdout = real
        return kernel.last / paths, gen.last / paths

    half = args.traders // 2
    # The mirror's blocks have room for 500,000 gas per trader (1e9 at 2,000): every trader's
    # transaction fits in one block, as the peer has no block capacity. Kept per trader at any
    # size (at 200,000 traders a fixed 1e9 queued the openings for tens of blocks).
    gas_limit = max(1_000_000_000, 500_000 * args.traders)

    def cascade(scenario, seed, runs, horizon):
        cmd = [
            args.cascade, "run", os.path.join(args.repo, scenario),
            "--runs", str(runs), "--threads", "1", "--seed", str(seed),
            "--set", f"chain.duration_s={horizon * 60}",
            "--set", f"agents.0.count={half}", "--set", f"agents.1.count={half}",
            "--set", f"gas.gas_limit={gas_limit}",
        ]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if out.returncode != 0:
            sys.exit(f"cascade failed ({' '.join(cmd)}):\n{out.stderr}")
        liq = next(
            (float(l.split()[2]) for l in out.stdout.splitlines() if l.startswith("liquidations ")),
            float("nan"),
        )
        return dt / runs, liq

    # Warm-up: Numba compiles the kernel at its first call; cascade's binary is paged in.
    for name, scen in pairs_of:
        dexsim(name, 1, 1, 50)
        cascade(scen, 1, 1, 50)

    with open("/proc/loadavg") as f:
        load0 = f.read().split()[:3]
    print(f"# traders {args.traders}, horizon {args.horizon} steps, {args.pairs} pairs; dex-sim "
          f"{args.dexsim_paths} paths per kernel call, cascade {args.cascade_runs} runs per "
          f"process; load average at start {' '.join(load0)}")
    print(f"{'pair':>4} {'model':<9} {'dex-sim s/path':>14} {'(paths gen)':>11} "
          f"{'cascade s/run':>13} {'ratio':>7} {'cascade liq/run':>15}")
    rows = {name: [] for name, _ in pairs_of}
    for i in range(args.pairs):
        seed = args.seed + i
        for name, scen in pairs_of:
            # Alternate which tool goes first, so that neither always runs after the other.
            if i % 2 == 0:
                d, g = dexsim(name, seed, args.dexsim_paths, args.horizon)
                c, liq = cascade(scen, seed, args.cascade_runs, args.horizon)
            else:
                c, liq = cascade(scen, seed, args.cascade_runs, args.horizon)
                d, g = dexsim(name, seed, args.dexsim_paths, args.horizon)
            rows[name].append((d, g, c))
            print(f"{i:>4} {name:<9} {d:>14.4f} {g:>11.4f} {c:>13.4f} {c / d:>7.2f} {liq:>15.1f}",
                  flush=True)
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[:3]
    print(f"# load average at end {' '.join(load1)}")
    print(f"{'model':<9} {'median dex-sim':>14} {'median cascade':>14} {'median ratio':>12} "
          f"{'ratio min-max':>14}")
    for name, r in rows.items():
        ratios = [c / d for d, _, c in r]
        print(f"{name:<9} {statistics.median(d for d, _, _ in r):>14.4f} "
              f"{statistics.median(c for _, _, c in r):>14.4f} {statistics.median(ratios):>12.2f} "
              f"{min(ratios):>6.2f}-{max(ratios):<6.2f}")


if __name__ == "__main__":
    main()
