using System.Net.Http;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// The built <c>ingot</c> executable against the KNMI simulator over loopback: DESIGN §2 invariants 1–7 for the
/// raw archive under injected faults, kill -9, re-runs, 413 splits and bad configuration.
/// </summary>
public sealed class KnmiBackfillTests
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private static readonly string[] Stations = ["0-20000-0-06260", "0-20000-0-06240", "0-20000-0-06275"];
    private static readonly string[] Parameters = ["TG", "TN", "TX"];
    private static readonly DateTimeOffset From = new(2000, 1, 2, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2003, 1, 2, 0, 0, 0, TimeSpan.Zero);
    private const string Key = "e2e-secret-key-7f3a9c";

    private static string PipelineFor(SimulatorHost sim, long budget = 900, string key = Key, int concurrency = 4) =>
        KnmiArchive.Pipeline("knmi-e2e", sim.BaseUrl, key, Daily, Stations, Parameters, "2000-01-02T00:00:00Z", "2003-01-02T00:00:00Z", "P1D", budget, concurrency: concurrency);

    private static string RawRoot(Workspace ws) => Path.Combine(ws.Lake, "knmi-e2e", "raw", Daily);

    [Fact]
    public async Task Run_WithInjectedFaults_ArchivesEveryObservationExactlyOnceByteForByte()
    {
        // Given a simulator that fails a third of data requests with 5xx, 429s, resets and truncated bodies
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions
        {
            ApiKey = Key, FailRate = 0.33, Seed = 7, RetryAfterSeconds = 0,
            Faults = FaultKinds.ServerError5xx | FaultKinds.TooManyRequests429 | FaultKinds.TooManyRequests429RetryAfter | FaultKinds.ConnectionReset | FaultKinds.TruncatedBody,
        }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, budget: 200));

        // When the backfill runs
        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then it completes, every observation is archived once, and each file is a response body byte for byte
        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        sim.Requests.Count(r => r.Fault is not null).ShouldBeGreaterThan(3, "faults were injected");
        result.Summary.GetProperty("retries").GetInt64().ShouldBeGreaterThan(0);
        var observations = KnmiArchive.Read(RawRoot(ws));
        KnmiArchive.ShouldHoldExactlyOnce(observations, 7, Stations, Parameters, From, To, TimeSpan.FromDays(1));
        await using var clean = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Seed = 7 }, TestContext.Current.CancellationToken);
        await ShouldMatchResponseBodies(ws, sim.BaseUrl, clean.BaseUrl);
        ws.AllFiles(ws.Dir).ShouldNotContain(f => Path.GetFileName(f).StartsWith("_tmp_", StringComparison.Ordinal));
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
    }

    [Fact]
    public async Task Run_Again_MakesZeroDataRequestsAndChangesNothing()
    {
        // Given a completed backfill
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).ExitCode.ShouldBe(0);
        var before = sim.DataRequestCount;
        var lake = Snapshot(ws.Lake);

        // When it runs again
        var again = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then no data request is made, every chunk is skipped and the lake is unchanged
        again.ExitCode.ShouldBe(0);
        sim.DataRequestCount.ShouldBe(before);
        again.Summary.GetProperty("chunks_skipped").GetInt32().ShouldBe(again.Summary.GetProperty("chunks_total").GetInt32());
        Snapshot(ws.Lake).ShouldBe(lake);

        // And --refresh re-fetches and replaces without duplicates
        var refresh = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--refresh");
        refresh.ExitCode.ShouldBe(0);
        sim.DataRequestCount.ShouldBeGreaterThan(before);
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(RawRoot(ws)), 42, Stations, Parameters, From, To, TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task Run_KilledMidwayThenResumed_ArchivesExactlyOnce()
    {
        // Given a slow backfill of many chunks, killed with SIGKILL after a few have landed
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(60), FailRate = 0.1, RetryAfterSeconds = 0 },
            TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, budget: 300, concurrency: 3));
        var killed = await IngotProcess.RunAndKillAsync(ws.Dir, null, 5, "run", pipeline);
        killed.ShouldContain("Chunk landed");

        // When the pipeline runs again
        var resumed = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the lease of the dead run is taken over at once, done chunks are skipped and the archive is exact
        resumed.ExitCode.ShouldBe(0, resumed.Stdout + resumed.Stderr);
        resumed.Summary.GetProperty("chunks_skipped").GetInt32().ShouldBeGreaterThanOrEqualTo(5);
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(RawRoot(ws)), 42, Stations, Parameters, From, To, TimeSpan.FromDays(1));
        ws.AllFiles(ws.Lake).ShouldNotContain(f => Path.GetFileName(f).StartsWith("_tmp_", StringComparison.Ordinal));
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
    }

    [Fact]
    public async Task Run_RetryAfter_IsHonoured()
    {
        // Given a simulator whose only faults are 429s with Retry-After: 1
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions
        {
            ApiKey = Key, FailRate = 0.4, Faults = FaultKinds.TooManyRequests429RetryAfter, RetryAfterSeconds = 1, Seed = 3,
        }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, concurrency: 2));

        // When the backfill runs
        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then every retry of a 429 came at least Retry-After later (backoff alone is 10..200 ms here)
        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        var log = sim.Requests.Where(r => r.PathAndQuery.Contains("/locations/", StringComparison.Ordinal)).ToList();
        var limited = log.Where(r => r.Status == 429 && r.RetryAfter is not null).ToList();
        limited.Count.ShouldBeGreaterThan(0);
        foreach (var r in limited)
        {
            var next = log.FirstOrDefault(x => x.PathAndQuery == r.PathAndQuery && x.At > r.At);
            next.ShouldNotBeNull();
            (next.At - r.At).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(990), $"retry of {r.PathAndQuery}");
        }
    }

    [Fact]
    public async Task Run_OverTheDataPointLimit_SplitsAndArchivesEachPartOnce()
    {
        // Given a budget far above the server's real limit
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, DataPointLimit = 700 }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, budget: 5000));

        // When the backfill runs
        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the 413s were split into parts that fit, each archived once under its own key
        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        sim.Requests.Count(r => r.Status == 413).ShouldBeGreaterThan(0);
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(RawRoot(ws)), 42, Stations, Parameters, From, To, TimeSpan.FromDays(1));
        var files = Directory.EnumerateFiles(RawRoot(ws), "*.json", SearchOption.AllDirectories).Where(f => !f.Contains("_manifests", StringComparison.Ordinal)).ToList();
        files.Count.ShouldBeGreaterThan(result.Summary.GetProperty("chunks_done").GetInt32());

        // And a refresh reuses the recorded split: no 413 the second time
        var before = sim.Requests.Count(r => r.Status == 413);
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--refresh")).ExitCode.ShouldBe(0);
        sim.Requests.Count(r => r.Status == 413).ShouldBe(before);
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(RawRoot(ws)), 42, Stations, Parameters, From, To, TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task Run_ApiKey_AppearsNowhereInLogsStateOrLake()
    {
        // Given a run with faults (so errors and retries are logged)
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, FailRate = 0.3, RetryAfterSeconds = 0 }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim).Replace(Key, "${MY_KNMI_KEY}", StringComparison.Ordinal));

        // When it runs, and status/runs are printed
        var env = new Dictionary<string, string> { ["MY_KNMI_KEY"] = Key };
        var run = await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline);
        var status = await IngotProcess.RunAsync(ws.Dir, env, "status", pipeline, "--json");
        var runs = await IngotProcess.RunAsync(ws.Dir, env, "runs", "--json");

        // Then the key is in no output and no file
        run.ExitCode.ShouldBe(0);
        foreach (var text in new[] { run.Stdout, run.Stderr, status.Stdout, runs.Stdout }) text.ShouldNotContain(Key);
        foreach (var file in ws.AllFiles(ws.Dir).Where(f => !f.EndsWith("knmi.yaml", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(file);
            System.Text.Encoding.UTF8.GetString(bytes).ShouldNotContain(Key, customMessage: file);
            file.ShouldNotContain(Key);
        }
    }

    [Fact]
    public async Task Run_WrongKey_FailsChunksWithExit1AndSays403()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, key: "not-the-key"));

        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        result.ExitCode.ShouldBe(1);
        result.Stdout.ShouldContain("403");
        result.Stdout.ShouldContain("Access to this API has been disallowed");
        result.Summary.GetProperty("chunks_failed").GetInt32().ShouldBeGreaterThan(0);
        Directory.Exists(RawRoot(ws)).ShouldBeFalse("nothing is landed from an error body");
        // A 403 is not retried: one request per chunk.
        sim.DataRequestCount.ShouldBe(result.Summary.GetProperty("chunks_failed").GetInt32());
        var status = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline, "--json");
        status.Stdout.ShouldContain("HTTP 403: Access to this API has been disallowed");

        // And the next run, with the key fixed, retries the failed chunks and completes
        ws.Write("knmi.yaml", PipelineFor(sim));
        var fixedRun = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        fixedRun.ExitCode.ShouldBe(0);
        // (the failed chunks, and those the fail-fast stop left pending: how many of each depends on what was in flight)
        fixedRun.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(result.Summary.GetProperty("chunks_failed").GetInt32() + result.Summary.GetProperty("chunks_pending").GetInt32());
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(RawRoot(ws)), 42, Stations, Parameters, From, To, TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task Run_UnsetKeyVariable_Exits2NamingItWithoutAnyRequest()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, key: "${KNMI_API_KEY_UNSET_E2E}"));

        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        result.ExitCode.ShouldBe(2);
        result.Stderr.ShouldContain("KNMI_API_KEY_UNSET_E2E");
        result.Stderr.ShouldMatch(@"knmi\.yaml:\d+:\d+: ");
        sim.Requests.Count.ShouldBe(0);
    }

    [Fact]
    public async Task Validate_BadYaml_PrintsFileLineColAndExits2()
    {
        using var ws = new Workspace();
        var pipeline = ws.Write("bad.yaml", """
            name: bad
            source:
              type: knmi-edr
              base_url: http://127.0.0.1:1/edr/v1
              api_key: k
              collection: c
              stations: [a]
              parameters: [TG]
              start: 2000-01-01T00:00:00Z
              step: P1D
            http:
              concurency: 4
            destinations:
              - type: raw
                path: ./lake
            """);

        var result = await IngotProcess.RunAsync(ws.Dir, null, "validate", pipeline);

        result.ExitCode.ShouldBe(2);
        result.Stderr.ShouldContain("bad.yaml:12:3: http.concurency: unknown key");
    }

    [Fact]
    public async Task Run_EmptyOrUnreadableRange_Exits2WithoutAnyRequest()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));

        var backwards = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--from", "2002-01-01T00:00:00Z", "--to", "2001-01-01T00:00:00Z");
        var unreadable = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--from", "last tuesday");

        backwards.ExitCode.ShouldBe(2);
        backwards.Stderr.ShouldContain("is not before --to");
        unreadable.ExitCode.ShouldBe(2);
        unreadable.Stderr.ShouldContain("--from: 'last tuesday' is not a UTC time");
        sim.Requests.Count.ShouldBe(0);
    }

    [Fact]
    public async Task Run_WhileAnotherRunHoldsTheLease_Exits3()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(300) }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, budget: 300, concurrency: 1));
        using var first = System.Diagnostics.Process.Start(IngotProcess.StartInfo(ws.Dir, null, "run", pipeline))!;
        var line = await first.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken); // "Run started": the lease is held
        line.ShouldNotBeNull();
        line.ShouldContain("Run started");

        var second = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        first.Kill(entireProcessTree: true);
        await first.WaitForExitAsync(TestContext.Current.CancellationToken);
        second.ExitCode.ShouldBe(3);
        second.Stderr.ShouldContain("is being run by run");
    }

    [Fact]
    public async Task Run_RangeGrowsPastACutWindow_RefetchesThatWindowAndKeepsEveryObservationOnce()
    {
        // Given a backfill cut short inside a grid window (--to before the pipeline's end)
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));
        var cut = new DateTimeOffset(2001, 8, 17, 0, 0, 0, TimeSpan.Zero);
        var first = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--to", "2001-08-17T00:00:00Z");
        first.ExitCode.ShouldBe(0, first.Stdout + first.Stderr);
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(RawRoot(ws)), 42, Stations, Parameters, From, cut, TimeSpan.FromDays(1));
        var before = sim.DataRequestCount;

        // When the range grows to the pipeline's end
        var second = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the cut window is fetched again in full and replaces its earlier files; whole windows are skipped
        second.ExitCode.ShouldBe(0, second.Stdout + second.Stderr);
        second.Summary.GetProperty("chunks_skipped").GetInt32().ShouldBeGreaterThan(0);
        (sim.DataRequestCount - before).ShouldBe(second.Summary.GetProperty("chunks_done").GetInt32());
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(RawRoot(ws)), 42, Stations, Parameters, From, To, TimeSpan.FromDays(1));
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
    }

    private static Dictionary<string, string> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => f, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))) + File.GetLastWriteTimeUtc(f).Ticks);

    /// <summary>Re-asks every archived request of a fault-free simulator with the same seed: the bytes must be identical.</summary>
    private static async Task ShouldMatchResponseBodies(Workspace ws, Uri faultyBase, Uri cleanBase)
    {
        using var http = new HttpClient();
        var manifests = Directory.EnumerateFiles(Path.Combine(RawRoot(ws), "_manifests"), "*.json").ToList();
        manifests.ShouldNotBeEmpty();
        foreach (var m in manifests)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(m));
            foreach (var f in doc.RootElement.GetProperty("files").EnumerateArray())
            {
                var request = f.GetProperty("request").GetString()!;
                request.ShouldStartWith("GET ");
                var url = request[4..].Replace(faultyBase.ToString().TrimEnd('/'), cleanBase.ToString().TrimEnd('/'), StringComparison.Ordinal);
                using var req = new HttpRequestMessage(HttpMethod.Get, url);
                req.Headers.TryAddWithoutValidation("Authorization", Key);
                using var resp = await http.SendAsync(req, TestContext.Current.CancellationToken);
                var body = await resp.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
                var archived = File.ReadAllBytes(Path.Combine(ws.Lake, f.GetProperty("path").GetString()!));
                archived.ShouldBe(body, $"{f.GetProperty("path").GetString()} is the response body byte for byte");
            }
        }
    }
}
