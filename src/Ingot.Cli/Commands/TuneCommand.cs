using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Cli.Commands;

/// <summary>
/// Concurrency sweep: the same workload (the first N chunks of the plan) at each level, retries off so every
/// failure counts; prints time, successes, failures and throughput, and marks the sweet spot. Writes nothing to the lake.
/// </summary>
internal static class TuneCommand
{
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var levels = new Option<string>("--levels") { Description = "comma-separated concurrency levels", DefaultValueFactory = _ => "5,10,15,20,25,30,40,50" };
        var requests = Common.Number("--requests", "chunks fetched per level", 1, 1_000_000, 150);
        var command = new Command("tune", "concurrency sweep: time, successes, failures, throughput; marks the sweet spot") { pipeline, levels, requests };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (_, configured) = Common.Load(parse.GetValue(pipeline)!);
            var (spec, simulator) = await Composition.WithBuiltinSimulatorAsync(configured, io.Cancellation).ConfigureAwait(false);
            await using var simulatorScope = simulator;
            var levelList = ParseLevels(parse.GetValue(levels)!);
            var n = parse.GetValue(requests);
            if (n < 1) throw new Config.ConfigException("--requests must be at least 1");
            var time = TimeProvider.System;
            var rows = new List<(int Level, double Seconds, int Success, int Failures, double Throughput)>();
            await io.Out.WriteLineAsync($"tuning {spec.Name}: {n} requests at each of {string.Join(", ", levelList)}").ConfigureAwait(false);
            foreach (var level in levelList)
            {
                var http = spec.Http with { Concurrency = level, Retries = 0, CircuitBreakerFailures = int.MaxValue };
                using var client = PipelineRunner.HttpClientFor(http);
                var services = new Connectors.SourceServices(spec, time, Composition.Registry.Stores, _ => new ResilientHttp(client, http, time, NullHttpObserver.Instance, null));
                await using var source = Composition.Registry.SourceFor(spec.Source).Create(spec.Source, services);
                var plan = await source.PlanAsync(new PlanRequest(null, null, time.GetUtcNow(), false, null, new Dictionary<string, State.Watermark>(), new Dictionary<string, State.ChunkState>()), io.Cancellation).ConfigureAwait(false);
                var chunks = plan.Units.Take(n).ToList();
                var success = 0;
                var failures = 0;
                var clock = Stopwatch.StartNew();
                await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = level, CancellationToken = io.Cancellation }, async (chunk, ct) =>
                {
                    try
                    {
                        await foreach (var _ in source.FetchAsync(chunk, NoProgress.Instance, ct).ConfigureAwait(false)) { }
                        Interlocked.Increment(ref success);
                    }
                    catch (HttpFailure)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }).ConfigureAwait(false);
                var seconds = clock.Elapsed.TotalSeconds;
                rows.Add((level, seconds, success, failures, success / seconds));
            }
            var sweet = rows.Where(r => r.Failures == 0).OrderByDescending(r => r.Throughput).Select(r => (int?)r.Level).FirstOrDefault();
            await io.Out.WriteLineAsync().ConfigureAwait(false);
            await io.Out.WriteLineAsync("| Concurrency | Time (s) | Success | Failures | Throughput (req/s) |").ConfigureAwait(false);
            await io.Out.WriteLineAsync("|------------:|---------:|--------:|---------:|-------------------:|").ConfigureAwait(false);
            foreach (var r in rows)
            {
                var mark = r.Level == sweet ? "  ← sweet spot" : "";
                await io.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"| {r.Level,11} | {r.Seconds,8:0.00} | {r.Success,7} | {r.Failures,8} | {r.Throughput,18:0.0} |{mark}")).ConfigureAwait(false);
            }
            await io.Out.WriteLineAsync(sweet is null
                ? "no level ran without failures: lower the levels or check the API"
                : $"sweet spot: concurrency {sweet} (highest throughput with zero failures); set http.concurrency: {sweet}").ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static List<int> ParseLevels(string text)
    {
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < 1)
                throw new Config.ConfigException($"--levels: '{part}' is not a positive whole number");
            list.Add(v);
        }
        return list.Count > 0 ? list : throw new Config.ConfigException("--levels: give at least one level");
    }

    private sealed class NoProgress : IUnitContext
    {
        public static readonly NoProgress Instance = new();
        public State.ChunkState? Previous => null;
        public Task RecordSplitAsync(string split, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
