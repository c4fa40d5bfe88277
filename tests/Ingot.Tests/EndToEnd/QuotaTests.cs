using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>A daily quota that runs out mid-run, against a slow API: what was paid for lands.</summary>
public sealed class QuotaTests
{
    private const string Key = "quota-e2e-key";

    [Fact]
    public async Task Run_QuotaRunsOutWhileRequestsAreInFlight_TheReservedRequestsFinishAndLand()
    {
        // Given one request per unit, 4 in flight at a time against a slow API, and a quota of 7 requests
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(400) }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", KnmiArchive.Pipeline("knmi-quota", sim.BaseUrl, Key, "daily-in-situ-meteorological-observations-validated",
            ["0-20000-0-06260"], ["TG"], "2000-01-01T00:00:00Z", "2000-01-21T00:00:00Z", "P1D", 2, extraHttp: "  daily_quota: 7", concurrency: 4));

        // When it runs: the 8th reservation is refused while up to 3 reserved requests are still waiting for the API
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then it stops early (resumable) without cancelling what the quota already paid for: all 7 requests reached the
        // API, and each of their units landed — no request spent for data thrown away
        run.ExitCode.ShouldBe(4, run.Stdout + run.Stderr);
        sim.DataRequestCount.ShouldBe(7);
        run.Summary.GetProperty("requests").GetInt64().ShouldBe(7);
        run.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(7);
        run.Summary.GetProperty("chunks_pending").GetInt32().ShouldBe(3);
    }
}
