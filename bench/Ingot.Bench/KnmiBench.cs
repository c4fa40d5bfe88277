using System.Diagnostics;
using System.Globalization;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Sources;
using Ingot.Sources.Knmi;
using Ingot.State;
using Ingot.Storage;
using Ingot.Simulators;

namespace Ingot.Bench;

/// <summary>
/// Macro benchmark for the engine: a ~1,000-request KNMI backfill against the simulator at a fixed latency,
/// through the whole engine (plan, fetch, parse, raw archive with fsync, manifests, state commits), and the
/// ratio of its wall time to the ideal time: the simulator's own service time of those requests (arrival to response
/// written, summed, as it reports it) ÷ concurrency. Goals (issue 10): ≤ 1.05 at 200 ms, ≤ 1.10 at 50 ms.
/// </summary>
internal static class KnmiBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var latencyMs = Arg(args, "--latency", 50);
        var concurrency = Arg(args, "--concurrency", 20);
        var years = Arg(args, "--years", 75);
        if (Environment.GetEnvironmentVariable("BENCH_MINTHREADS") is { } mt) ThreadPool.SetMinThreads(int.Parse(mt, CultureInfo.InvariantCulture), int.Parse(mt, CultureInfo.InvariantCulture));
        var time = TimeProvider.System;
        // The simulator runs in its own process (as `ingot sim` would), so its allocations and threads are not the engine's.
        await using var sim = await SimProcess.StartAsync(latencyMs);
        var work = Path.Combine(Path.GetTempPath(), "ingot-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            var start = new DateTimeOffset(2025 - years, 1, 2, 0, 0, 0, TimeSpan.Zero);
            var end = new DateTimeOffset(2025, 1, 2, 0, 0, 0, TimeSpan.Zero);
            // One station and one parameter per request, a year per window: ~1,000 requests of ~10 KB.
            var source = new KnmiSourceSpec(sim.BaseUrl.ToString().TrimEnd('/'), "bench-key", "daily-in-situ-meteorological-observations-validated",
                KnmiData.Stations.ToList(), ["TG"], start, end, TimeSpan.FromDays(1), 366);
            var http = HttpSpec.Default with { Concurrency = concurrency, Timeout = TimeSpan.FromSeconds(30) };
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency * 2 }) { Timeout = Timeout.InfiniteTimeSpan };
            var observer = new Counting();
            var resilient = new ResilientHttp(client, http, time, observer, null);
            await using var knmi = new KnmiSource(source, resilient, time);
            var planned = Sources.Knmi.KnmiPlanner.Plan(source.Collection, source.Stations, source.Parameters.Count, source.Step, source.MaxDataPoints, source.Start, source.End, start, end);
            var noDestinations = Environment.GetEnvironmentVariable("BENCH_NODEST") is not null;

            async Task<RunSummary> Engine(string name, DateTimeOffset from, DateTimeOffset to)
            {
                var lake = Path.Combine(work, name, "lake");
                var spec = new PipelineSpec(name, null, null, true, null, [source], http,
                    [new RawDestinationSpec(lake, new StoreOptions())], null, [], Path.Combine(work, name, "p.yaml"));
                await using var state = SqliteStateStore.Open(Path.Combine(work, name, "state.db"), time);
                IReadOnlyList<IDestination> dests = noDestinations ? [] : [new RawDestination(new LocalBlobStore(lake))];
                var runner = new Runner(spec, [knmi], dests, state, new Quiet(), time);
                observer.Runner = runner;
                return await runner.RunAsync(new RunOptions(from, to), CancellationToken.None);
            }

            async Task<double> Bare(IEnumerable<Sources.Chunk> chunks)
            {
                var urls = chunks.Select(c => knmi.Url(new KnmiSource.Part(c.Stations, c.From, c.To))).ToList();
                var bare = Stopwatch.StartNew();
                await Parallel.ForEachAsync(urls, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (url, ct) =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, url);
                    request.Headers.TryAddWithoutValidation("Authorization", "bench-key");
                    using var response = await client.SendAsync(request, ct);
                    await response.Content.ReadAsByteArrayAsync(ct);
                });
                return bare.Elapsed.TotalSeconds;
            }

            // Warm-up (as any benchmark harness does): JIT and connections, on a tenth of the range, not measured.
            var warmFrom = end.AddYears(-Math.Max(1, years / 10));
            await Bare(planned.Where(c => c.From >= warmFrom));
            await Engine("warmup", warmFrom, end);

            // Anchor, same run: the same requests with a bare HttpClient at the same concurrency (bodies read, nothing else).
            var bareWall = await Bare(planned);
            var attemptsBefore = observer.Attempts;
            var served = await sim.StatsAsync();
            var clock = Stopwatch.StartNew();
            var summary = await Engine("knmi-bench", start, end);
            var wall = clock.Elapsed.TotalSeconds;
            var servedAfter = await sim.StatsAsync();

            var requests = observer.Attempts - attemptsBefore;

            // Ideal: the simulator's own service time of exactly these requests (arrival to response written, summed),
            // spread over the connections — what a client that never leaves a connection idle would take.
            var nominal = requests * latencyMs / 1000.0 / concurrency;
            var ideal = (servedAfter.ServiceSeconds - served.ServiceSeconds) / concurrency;
            if (servedAfter.Requests - served.Requests != requests)
                Console.WriteLine($"note: the simulator served {servedAfter.Requests - served.Requests} data requests, the engine counted {requests} attempts");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"knmi backfill: {planned.Count} chunks, {requests} requests, {summary.RecordsLanded:N0} records, {summary.Bytes / 1e6:0.0} MB, exit {summary.ExitCode}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"latency {latencyMs} ms, concurrency {concurrency}: wall {wall:0.00} s, ideal {ideal:0.00} s (simulator's summed service time / concurrency; nominal requests x latency / concurrency {nominal:0.00} s)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bare HttpClient, same requests and concurrency: {bareWall:0.00} s = {bareWall / ideal:0.000} x ideal"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wall / ideal = {wall / ideal:0.000}  (goal <= {(latencyMs >= 200 ? "1.05" : "1.10")});  wall / bare HttpClient = {wall / bareWall:0.000}"));
            return summary.ExitCode;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Child process entry: a KNMI simulator on a free port; prints the base URL, serves until stdin closes.</summary>
    public static async Task<int> RunSimChildAsync(string[] args)
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions
        {
            ApiKey = "bench-key", Latency = TimeSpan.FromMilliseconds(Arg(args, "--latency", 50)), Capacity = 10_000, RateLimitPerSecond = double.PositiveInfinity,
        });
        Console.WriteLine(host.BaseUrl);
        Console.Out.Flush();
        // "stats" on stdin: the data requests served so far and their summed service time; end of input stops the simulator.
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (line != "stats") continue;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{host.DataRequestCount} {host.DataServiceTime.TotalSeconds:R}"));
            Console.Out.Flush();
        }
        return 0;
    }

    /// <summary>The simulator child and its data-request count (read from its log at the end is not possible across processes: counted by the engine).</summary>
    private sealed class SimProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private SimProcess(Process process, Uri baseUrl)
        {
            _process = process;
            BaseUrl = baseUrl;
        }

        public Uri BaseUrl { get; }

        public static async Task<SimProcess> StartAsync(int latencyMs)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add(typeof(KnmiBench).Assembly.Location);
            psi.ArgumentList.Add("knmi-sim-child");
            psi.ArgumentList.Add("--latency");
            psi.ArgumentList.Add(latencyMs.ToString(CultureInfo.InvariantCulture));
            var process = Process.Start(psi)!;
            var line = await process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("simulator child did not start");
            return new SimProcess(process, new Uri(line));
        }

        /// <summary>Data requests served so far and their summed service time in the simulator (seconds).</summary>
        public async Task<(long Requests, double ServiceSeconds)> StatsAsync()
        {
            await _process.StandardInput.WriteLineAsync("stats");
            await _process.StandardInput.FlushAsync();
            var parts = (await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("simulator child ended")).Split(' ');
            return (long.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
        }

        public async ValueTask DisposeAsync()
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private sealed class Counting : IHttpObserver
    {
        private int _attempts;
        public int Attempts => Volatile.Read(ref _attempts);
        public Runner? Runner { get; set; }
        public void OnAttempt(string chunkKey, int attempt)
        {
            Interlocked.Increment(ref _attempts);
            Runner?.CountAttempt(chunkKey);
        }
        public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) => Runner?.CountRetry();
        public void OnCircuitOpen(TimeSpan pause, string reason) { }
    }

    private sealed class Quiet : IRunObserver
    {
        public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped) { }
        public void ChunkLanded(RunInfo run, WorkUnit chunk, ChunkOutcome outcome) { }
        public void ChunkFailed(RunInfo run, WorkUnit chunk, string error, int attempts) => Console.Error.WriteLine($"failed {chunk.Key}: {error}");
        public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
        public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) { }
        public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null) { }
        public void RunComplete(RunInfo run, RunSummary summary) { }
    }
}
