using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Cli.Commands;

/// <summary>
/// Concurrency sweep: the same workload at each level — N small, valid requests (the source's tune units: one station ×
/// one month), or the plan's first N units where the source has none — with retries off so every failure counts; prints
/// time, successes, failures and throughput, and marks the sweet spot (<see cref="SweetSpot"/>). Writes nothing to the lake.
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
            var time = TimeProvider.System;
            var rows = new List<(int Level, long Requests, double Seconds, long Success, long Failures, double Throughput)>();
            var announced = false;
            foreach (var level in levelList)
            {
                var http = spec.Http with { Concurrency = level, Retries = 0, CircuitBreakerFailures = int.MaxValue };
                using var client = PipelineRunner.HttpClientFor(http);
                // Every request attempt is counted as it is sent: a unit may take several (pages, 413 splits), so the table shows
                // what a level really ran, not how many units it was given.
                var attempts = new AttemptCounter();
                var services = new Connectors.SourceServices(spec, time, Composition.Registry.Stores, _ => new ResilientHttp(client, http, time, attempts, null));
                await using var source = Composition.Registry.SourceFor(spec.Source).Create(spec.Source, services);
                var small = source.TuneUnits(n, time.GetUtcNow());
                var chunks = small is { Count: > 0 } ? [.. small]
                    : (await source.PlanAsync(new PlanRequest(null, null, time.GetUtcNow(), false, null, new Dictionary<string, State.Watermark>(), new Dictionary<string, State.ChunkState>()), io.Cancellation).ConfigureAwait(false))
                        .Units.Take(n).ToList();
                if (!announced)
                {
                    announced = true;
                    await io.Out.WriteLineAsync(small is { Count: > 0 }
                        ? $"tuning {spec.Name}: {chunks.Count} small requests (one station × one month each) at each of {string.Join(", ", levelList)}"
                        : chunks.Count < n
                            ? $"tuning {spec.Name}: the plan has {chunks.Count} unit(s), fewer than the {n} asked; all of them at each of {string.Join(", ", levelList)} (requests counted as sent)"
                            : $"tuning {spec.Name}: {n} units at each of {string.Join(", ", levelList)} (requests counted as sent: pages and splits may make more than one per unit)").ConfigureAwait(false);
                }
                long failures = 0;
                var clock = Stopwatch.StartNew();
                await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = level, CancellationToken = io.Cancellation }, async (chunk, ct) =>
                {
                    try
                    {
                        await foreach (var _ in source.FetchAsync(chunk, NoProgress.Instance, ct).ConfigureAwait(false)) { }
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        // With retries off, a failed unit is exactly one failed request: the attempt that failed.
                        Interlocked.Increment(ref failures);
                    }
                }).ConfigureAwait(false);
                var seconds = clock.Elapsed.TotalSeconds;
                var sent = attempts.Count;
                var succeeded = Math.Max(0, sent - failures);
                rows.Add((level, sent, seconds, succeeded, failures, succeeded / seconds));
            }
            var sweet = SweetSpot(rows.Select(r => (r.Level, r.Failures, r.Throughput)).ToList());
            await io.Out.WriteLineAsync().ConfigureAwait(false);
            await io.Out.WriteLineAsync("| Concurrency | Requests | Time (s) | Success | Failures | Throughput (req/s) |").ConfigureAwait(false);
            await io.Out.WriteLineAsync("|------------:|---------:|---------:|--------:|---------:|-------------------:|").ConfigureAwait(false);
            foreach (var r in rows)
            {
                var mark = r.Level == sweet ? "  ← sweet spot" : "";
                await io.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"| {r.Level,11} | {r.Requests,8} | {r.Seconds,8:0.00} | {r.Success,7} | {r.Failures,8} | {r.Throughput,18:0.0} |{mark}")).ConfigureAwait(false);
            }
            if (spec.Http.RateLimitPerSecond is { } limit && rows.Count > 0 && rows.Max(r => r.Throughput) >= KneeShare * limit)
                await io.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"note: the pipeline's rate_limit ({limit:0.##}/s) caps every level; the sweep shows the API's capacity only below it (raise http.rate_limit to probe further, if the API allows)")).ConfigureAwait(false);
            await io.Out.WriteLineAsync(sweet is null
                ? "no level ran without failures: lower the levels or check the API"
                : $"sweet spot: concurrency {sweet} (the lowest level reaching {KneeShare * 100:0}% of the best throughput, with zero failures); set http.concurrency: {sweet}").ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    /// <summary>A level this close to the best zero-failure throughput counts as reaching it.</summary>
    internal const double KneeShare = 0.90;

    /// <summary>
    /// The knee of the curve: the lowest level without failures whose throughput is within <see cref="KneeShare"/> of the
    /// best level without failures. Past an API's capacity more concurrency only queues (latency grows, throughput stays
    /// flat, then requests are shed), so the highest throughput alone would pick a level anywhere on that plateau,
    /// decided by noise; the knee is the capacity itself, at the least load on the API.
    /// </summary>
    internal static int? SweetSpot(IReadOnlyList<(int Level, long Failures, double Throughput)> rows)
    {
        var clean = rows.Where(r => r.Failures == 0).ToList();
        if (clean.Count == 0) return null;
        var best = clean.Max(r => r.Throughput);
        return clean.Where(r => r.Throughput >= KneeShare * best).Min(r => r.Level);
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

    private sealed class AttemptCounter : IHttpObserver
    {
        private long _count;
        public long Count => Interlocked.Read(ref _count);
        public void OnAttempt(string chunkKey, int attempt) => Interlocked.Increment(ref _count);
        public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
        public void OnCircuitOpen(TimeSpan pause, string reason) { }
    }

    private sealed class NoProgress : IUnitContext
    {
        public static readonly NoProgress Instance = new();
        public State.ChunkState? Previous => null;
        public Task RecordSplitAsync(string split, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
