using Ingot.Bench;

// Macro benchmarks. Each subcommand measures Ingot against an anchor run in the same process tree, so ratios hold on any machine.
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Ingot.Bench parquet [--rows N] [--chunk N (default 20000)] [--scales 1,10] [--repeats N] | postgres [--rows N] [--reps N] | postgres-source [--rows N] [--repeats N] [--page-size N] [--concurrency N] [--ingot DLL] [--baseline DLL] | iceberg [--rows N] [--chunk N] [--reps N] | iceberg-compact [--rows N] [--chunk N] [--reps N] | knmi [--latency MS] [--concurrency N] [--years N] | rest [--pages N] [--records N] [--repeat N] | startup --ingot DLL [--ingot DLL] [--runs N] | rerun --ingot DLL [--units N] [--runs N] | micro [--rows N] [--repeats N]");
    return 2;
}

return args[0] switch
{
    "parquet" => await ParquetBench.RunAsync(args[1..]),
    "knmi" => await KnmiBench.RunAsync(args[1..]),
    "startup" => await StartupBench.RunAsync(args),
    "rerun" => await RerunBench.RunAsync(args),
    "postgres" => await PostgresBench.RunAsync(args[1..]),
    "postgres-source" => await PostgresSourceBench.RunAsync(args[1..]),
    "micro" => MicroBench.Run(args[1..]),
    "rest" => await RestBench.RunAsync(args[1..]),
    "iceberg" => await IcebergBench.RunAsync(args[1..]),
    "iceberg-compact" => await IcebergCompactBench.RunAsync(args[1..]),
    "knmi-sim-child" => await KnmiBench.RunSimChildAsync(args[1..]),
    // One measured pass in a fresh process, so its peak RSS (VmHWM) is its own.
    PostgresFloor.ChildCommand => await PostgresFloor.RunChildAsync(args[1..]),
    ParquetBench.ChildCommand => await ParquetBench.RunChildAsync(args[1..]),
    _ => Unknown(args[0]),
};

static int Unknown(string command)
{
    Console.Error.WriteLine($"unknown benchmark '{command}' (known: parquet, iceberg, iceberg-compact, postgres, postgres-source, knmi, rest, startup, rerun, micro)");
    return 2;
}
