using System.Diagnostics;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>The other commands of the built executable: plan, status, tune, Ctrl+C.</summary>
public sealed class CliCommandTests
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private static readonly string[] Stations = ["0-20000-0-06260", "0-20000-0-06240"];
    private static readonly string[] Parameters = ["TG", "TX"];
    private const string Key = "cli-e2e-key";

    private static string PipelineFor(SimulatorHost sim, long budget = 400, int concurrency = 2) =>
        KnmiArchive.Pipeline("knmi-cli", sim.BaseUrl, Key, Daily, Stations, Parameters, "2000-01-02T00:00:00Z", "2002-01-02T00:00:00Z", "P1D", budget, concurrency: concurrency);

    [Fact]
    public async Task Plan_PrintsChunksRequestsAndEta_WithoutAnyRequest()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));

        var plan = await IngotProcess.RunAsync(ws.Dir, null, "plan", pipeline, "--json");

        plan.ExitCode.ShouldBe(0, plan.Stderr);
        sim.Requests.Count.ShouldBe(0);
        using var doc = JsonDocument.Parse(plan.Stdout);
        var chunks = doc.RootElement.GetProperty("chunk_list").EnumerateArray().ToList();
        chunks.Count.ShouldBe(doc.RootElement.GetProperty("chunks").GetInt32());
        chunks.ShouldAllBe(c => c.GetProperty("data_points").GetInt64() <= 400);
        doc.RootElement.GetProperty("data_points").GetInt64().ShouldBe(2 * 731 * 2);
        doc.RootElement.GetProperty("eta_seconds").GetDouble().ShouldBeGreaterThan(0);
        Directory.Exists(ws.Lake).ShouldBeFalse();
    }

    [Fact]
    public async Task Plan_RestPipelineOnTheBuiltInSimulator_ShowsEachStreamsCursorRangeAndNoTimeRange()
    {
        // Given the shipped REST pipeline (base_url: simulator), never run
        using var ws = new Workspace();
        var repo = Infrastructure.S3rverFixture.FindRepoRoot();
        var pipeline = ws.Write("shop.yaml", File.ReadAllText(Path.Combine(repo, "pipelines", "shop-rest.yaml")));

        // When it is planned
        var plan = await IngotProcess.RunAsync(ws.Dir, null, "plan", pipeline);

        // Then each stream is one full-load unit from the start to now, and no time range is claimed
        plan.ExitCode.ShouldBe(0, plan.Stderr);
        var lines = plan.Stdout.Split('\n');
        lines.ShouldContain(l => l.StartsWith("payments_full_", StringComparison.Ordinal) && l.Contains("(start)", StringComparison.Ordinal) && l.TrimEnd().EndsWith("pending", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("shipments_full_", StringComparison.Ordinal));
        plan.Stdout.ShouldContain("range         (no time windows: cursor or file units, see streams)");
        plan.Stdout.ShouldContain("payments (full)");
        Directory.Exists(ws.Home).ShouldBeFalse(); // read-only: no state created
    }

    [Fact]
    public async Task Status_AfterARun_ShowsWatermarkAndDoneChunks()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        run.ExitCode.ShouldBe(0);

        var status = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline, "--json");

        status.ExitCode.ShouldBe(0);
        using var doc = JsonDocument.Parse(status.Stdout);
        doc.RootElement.GetProperty("chunks").GetProperty("done").GetInt32().ShouldBe(run.Summary.GetProperty("chunks_done").GetInt32());
        var mark = doc.RootElement.GetProperty("watermarks").GetProperty(Daily);
        mark.GetProperty("value").GetString().ShouldBe("2002-01-02T00:00:00Z");
        mark.GetProperty("record_count").GetInt64().ShouldBe(2 * 731);
        doc.RootElement.GetProperty("runs").GetArrayLength().ShouldBe(1);
    }

    [Fact]
    public async Task Tune_SweepsLevels_PrintsTableWithSweetSpot_AndWritesNothing()
    {
        // Given a simulator whose capacity is 4 concurrent requests (beyond 8 it starts answering 503)
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(40), Capacity = 4 },
            TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, budget: 100));

        var tune = await IngotProcess.RunAsync(ws.Dir, null, "tune", pipeline, "--levels", "1,4,16", "--requests", "24");

        tune.ExitCode.ShouldBe(0, tune.Stderr);
        tune.Stdout.ShouldContain("| Concurrency | Requests | Time (s) | Success | Failures | Throughput (req/s) |");
        var lines = tune.Stdout.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && char.IsDigit(l.Trim('|', ' ')[0])).ToList();
        lines.Count.ShouldBe(3);
        tune.Stdout.ShouldContain("sweet spot");
        lines.Single(l => l.Contains("sweet spot", StringComparison.Ordinal)).ShouldContain(" 0 |");
        sim.DataRequestCount.ShouldBe(72);
        // And each level's row says how many requests it really sent, and they add up to what the API saw
        var cells = lines.Select(l => l.Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        cells.Sum(c => long.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture)).ShouldBe(sim.DataRequestCount);
        cells.ShouldAllBe(c => long.Parse(c[3], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(c[4], System.Globalization.CultureInfo.InvariantCulture) == long.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture));
        Directory.Exists(ws.Lake).ShouldBeFalse("tune writes nothing to the lake");
    }

    [Fact]
    public async Task Tune_AgainstTheSimulatorsCapacityModel_FindsTheCapacity_WithOneStationOneMonthRequests()
    {
        // Given a simulator that serves 8 requests at once at its base latency, slows down beyond that and sheds past 16
        // (a latency long against the client's own cost per request, so a loaded test machine does not tilt the curve)
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(150), Capacity = 8 },
            TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        // and a pipeline whose own chunks are wide (a year of both stations per request)
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, budget: 2000));
        var levels = new[] { 4, 6, 8, 12, 16, 24 };

        var tune = await IngotProcess.RunAsync(ws.Dir, null, "tune", pipeline, "--levels", string.Join(',', levels), "--requests", "96");

        // Then the sweet spot is the capacity, give or take one level
        tune.ExitCode.ShouldBe(0, tune.Stderr);
        var line = tune.Stdout.Split('\n').Single(l => l.StartsWith("sweet spot: concurrency ", StringComparison.Ordinal));
        var sweet = int.Parse(line["sweet spot: concurrency ".Length..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Math.Abs(Array.IndexOf(levels, sweet) - Array.IndexOf(levels, 8)).ShouldBeLessThanOrEqualTo(1, tune.Stdout);
        // And every request it sent was small and valid: one station, at most one month, answered 200 unless shed
        var data = sim.Requests.Where(r => r.PathAndQuery.Contains("/locations/", StringComparison.Ordinal)).ToList();
        data.Count.ShouldBe(96 * levels.Length);
        foreach (var r in data)
        {
            var query = r.PathAndQuery;
            var station = query[(query.IndexOf("/locations/", StringComparison.Ordinal) + "/locations/".Length)..query.IndexOf('?', StringComparison.Ordinal)];
            Uri.UnescapeDataString(station).ShouldNotContain(",");
            var range = Uri.UnescapeDataString(System.Web.HttpUtility.ParseQueryString(query[query.IndexOf('?', StringComparison.Ordinal)..])["datetime"]!).Split('/');
            (DateTimeOffset.Parse(range[1], System.Globalization.CultureInfo.InvariantCulture) - DateTimeOffset.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture)).ShouldBeLessThanOrEqualTo(TimeSpan.FromDays(31));
        }
        data.Where(r => r.Fault == null).ShouldAllBe(r => r.Status == 200);
    }

    [Theory]
    [InlineData(new[] { 5, 10, 20, 30, 40 }, new[] { 100.0, 199.0, 390.0, 404.0, 398.0 }, new long[] { 0, 0, 0, 0, 0 }, 20)]
    [InlineData(new[] { 5, 10, 20, 30, 40 }, new[] { 100.0, 199.0, 390.0, 420.0, 300.0 }, new long[] { 0, 0, 0, 0, 12 }, 20)]
    [InlineData(new[] { 5, 10, 20 }, new[] { 100.0, 150.0, 400.0 }, new long[] { 0, 0, 3 }, 10)]
    [InlineData(new[] { 5, 10 }, new[] { 100.0, 150.0 }, new long[] { 1, 2 }, null)]
    public void SweetSpot_IsTheLowestCleanLevelNearTheBestThroughput_NotTheNoisiestPointOfThePlateau(int[] levels, double[] throughput, long[] failures, int? expected)
    {
        var rows = levels.Select((l, i) => (l, failures[i], throughput[i])).ToList();

        Ingot.Cli.Commands.TuneCommand.SweetSpot(rows).ShouldBe(expected);
    }

    [Fact]
    public async Task Run_CtrlC_FinishesInFlightChunksAndExits130_ThenResumesExactlyOnce()
    {
        // Given a slow backfill: 42 chunks two at a time take ~13 s, so the signal lands mid-run even when a loaded test
        // machine reads the first "Chunk landed" line late (at 150 ms the whole run could end before it, and exit 0)
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(600) }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, budget: 100));
        using var p = Process.Start(IngotProcess.StartInfo(ws.Dir, null, "run", pipeline))!;
        var output = new List<string>();
        while (await p.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken) is { } line)
        {
            output.Add(line);
            if (line.Contains("\"Chunk landed\"", StringComparison.Ordinal)) break;
        }

        // When it gets SIGINT (Ctrl+C)
        Process.Start("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        output.AddRange((await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken)).Split('\n'));
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);

        // Then it exits 130 with a summary, and the next run completes the rest exactly once
        IngotProcess.ShouldNotHaveCrashed(p.ExitCode, string.Join('\n', output), await p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken));
        p.ExitCode.ShouldBe(130);
        var summary = output.Last(l => l.Contains("\"Run complete\"", StringComparison.Ordinal));
        summary.ShouldContain("\"status\":\"cancelled\"");
        var resumed = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--concurrency", "20");
        resumed.ExitCode.ShouldBe(0);
        KnmiArchive.ShouldHoldExactlyOnce(KnmiArchive.Read(Path.Combine(ws.Lake, "knmi-cli", "raw", Daily)), 42, Stations, Parameters,
            new DateTimeOffset(2000, 1, 2, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2002, 1, 2, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromDays(1));
        ws.AllFiles(ws.Lake).ShouldNotContain(f => Path.GetFileName(f).StartsWith("_tmp_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Verify_AlteredOrMissingFile_ReportsItAndExits1()
    {
        // Given a landed archive
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).ExitCode.ShouldBe(0);
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
        var files = Directory.EnumerateFiles(Path.Combine(ws.Lake, "knmi-cli", "raw", Daily), "*.json", SearchOption.AllDirectories)
            .Where(f => !f.Contains("_manifests", StringComparison.Ordinal)).OrderBy(f => f, StringComparer.Ordinal).ToList();

        // When one body is altered by a byte and another is deleted
        var altered = files[0];
        var bytes = File.ReadAllBytes(altered);
        bytes[^2] ^= 1;
        File.WriteAllBytes(altered, bytes);
        File.Delete(files[1]);
        var verify = await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline, "--json");

        // Then verify names both and exits 1
        verify.ExitCode.ShouldBe(1);
        using var doc = JsonDocument.Parse(verify.Stdout);
        var problems = doc.RootElement.GetProperty("problems").EnumerateArray().Select(p => (p.GetProperty("kind").GetString(), p.GetProperty("path").GetString())).ToList();
        problems.ShouldContain(("altered", Path.GetRelativePath(ws.Lake, altered)));
        problems.ShouldContain(("missing", Path.GetRelativePath(ws.Lake, files[1])));
    }
}
