"""v2v's benchmarks: every stage's pipeline against its bare limit, measured the same way in one run.

    harness.py    the stage protocol (Stage, Workload, Setting, Trial) and measure(), the one measurement
    memory.py     peak resident memory of this process and of the ffmpeg processes it starts
    inputs.py     what stages read, made once per size: example clips scaled, a panning photo, a
                  stick-figure pose video, random-weights generators, a dataset
    common.py     the repository's folders, CPU time, the machine (standard library only)
    bench_*.py    one stage each (bench_train.py: two, bench_generate.py: the CPU and the GPU row),
                  declared as STAGE(S), and a command line of its own for that stage's variants
    run_all.py    the driver: chosen stages at chosen sizes, each in its own process, then the table
    report.py     the table, and docs/benchmarks.md from templates/benchmarks.md
    ablation.py   the flow ablation of docs/results.md (training runs compared by quality)
    quality.py    quality on real footage of a person (docs/results.md): PSNR, SSIM, warping error vs
                  frame-by-frame, pose error

Adding a stage: in a bench_NAME.py, write the pipeline as the library call its command makes and the
limit as the bare loop it cannot beat, and a trial(setting) -> Trial(items, pipeline, make_limit)
that reads its inputs through an `inputs` maker (so run_all makes them before any stage runs); then
declare STAGE = Stage(name, pipeline description, limit description, full and quick Workload,
inputs, trial, unit, target) and add it to run_all.STAGES. Where the stage reads what a library
function returns, keep that in one small function.

Every script runs from the repository root as `python benchmarks/NAME.py` (or `python -m benchmarks.NAME`).
"""
