using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.Simulators;

public sealed class SimulatorHostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StartKnmiAsync_EphemeralPort_ListensOnLoopbackQuickly()
    {
        var watch = Stopwatch.StartNew();
        await using var knmi = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        await using var noaa = await SimulatorHost.StartNoaaAsync(new SimulatorOptions(), Ct);
        watch.Stop();

        knmi.BaseUrl.Host.ShouldBe("127.0.0.1");
        knmi.BaseUrl.AbsolutePath.ShouldBe("/edr/v1");
        noaa.BaseUrl.AbsolutePath.ShouldBe("/cdo-web/api/v2");
        knmi.BaseUrl.Port.ShouldNotBe(noaa.BaseUrl.Port);
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(3)); // lenient: the CI box is shared
    }

    [Fact]
    public async Task WaitForShutdownAsync_TokenCancelled_Completes()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var wait = host.WaitForShutdownAsync(cts.Token);
        wait.IsCompleted.ShouldBeFalse();
        await cts.CancelAsync();

        await wait.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Requests_SeveralCalls_LoggedInArrivalOrderWithDataCount()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = new HttpClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "sim-key");
        var data = $"{host.BaseUrl}/collections/daily-in-situ-meteorological-observations-validated/locations/0-20000-0-06260?datetime=2024-01-02T00:00:00Z/..&parameter-name=TG";

        using var first = await client.GetAsync($"{host.BaseUrl}/collections", Ct);
        using var second = await client.GetAsync(data, Ct);

        host.Requests.Select(r => r.PathAndQuery).ShouldBe(["/edr/v1/collections", new Uri(data).PathAndQuery]);
        host.Requests.ShouldAllBe(r => r.Authorized && r.Status == 200 && r.Fault == null && r.Method == "GET");
        host.DataRequestCount.ShouldBe(1);
        second.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("2024-01-02T00:00:00Z", 1)]
    [InlineData("../1951-01-05T00:00:00Z", 4)]
    [InlineData("2024-01-02T00:00:00Z/2024-01-02T00:00:00Z", 1)]
    public async Task KnmiDatetime_InstantAndOpenIntervals_SelectClosedRange(string datetime, int expectedSteps)
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = new HttpClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "sim-key");

        using var doc = JsonDocument.Parse(await client.GetStringAsync(
            $"{host.BaseUrl}/collections/daily-in-situ-meteorological-observations-validated/locations/0-20000-0-06260?datetime={datetime}&parameter-name=TG", Ct));

        doc.RootElement.GetProperty("coverages")[0].GetProperty("ranges").GetProperty("TG").GetProperty("values").GetArrayLength().ShouldBe(expectedSteps);
    }
}
