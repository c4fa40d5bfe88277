using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Simulators;
using Ingot.Sources.Rest;
using static Ingot.Tests.Core.Sources.Rest.RestTestKit;

namespace Ingot.Tests.Core.Sources.Rest;

/// <summary>The REST source against the shop simulator over loopback.</summary>
public sealed class RestSourceShopTests
{
    private static string Payments(SimulatorHost sim, string key = "sim-key") => $$$"""
          base_url: {{{sim.BaseUrl}}}
          auth: {type: api_key, header: x-api-key, key: {{{key}}}}
          streams:
            - name: payments
              path: /v1/payments
              params: {limit: "40"}
              records: data
              primary_key: [payment_id]
              paginate: {type: cursor, from: meta.next_cursor, param: cursor}
              incremental: {cursor: updated_at, param: since}
              lookback: 10m
              event_time: paid_at

        """;

    private static string Shipments(SimulatorHost sim, string auth) => $$$"""
          base_url: {{{sim.BaseUrl}}}
          auth: {{{auth}}}
          streams:
            - name: shipments
              path: /v1/shipments
              records: shipments
              primary_key: [shipment_id]
              paginate: {type: page, param: page, size_param: per_page, size: 25, total_from: meta.total}
              incremental: {cursor: updated_at, param: since}

        """;

    private static List<(string Id, int Version)> Landed(IEnumerable<FetchedPage> pages, string idField) =>
        [.. pages.SelectMany(p => p.Records).Select(r => (r.Fields[idField]!.GetValue<string>(), r.Fields["version"]!.GetValue<int>()))];

    [Fact]
    public async Task Payments_FullThenIncremental_LandsEveryRecordThenExactlyTheNewVersions()
    {
        // Given the payments API
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions { Latency = TimeSpan.Zero }, cancellationToken: Ct);
        var source = Source(Spec(Payments(sim)), new HttpClientHandler());

        // When a first run lands it all, records change, and a second run goes from its checkpoint
        var first = await RunAsync(source);
        var tick = sim.Shop!.Tick(TimeSpan.FromHours(2), updates: 12, inserts: 3);
        var last = first[^1];
        var second = await RunAsync(source, Request(Mark("payments", last.Cursor!, last.CursorMemo)));

        // Then the first run is every payment once, the second exactly the changed ones at their new versions
        Landed(first, "payment_id").ShouldBe(sim.Shop.Versions(ShopApiKind.Payments).Where(v => !tick.UpdatedPayments.Contains(v.Id) && !tick.InsertedPayments.Contains(v.Id))
            .Concat(tick.UpdatedPayments.Select(id => (id, sim.Shop.Versions(ShopApiKind.Payments).Single(v => v.Id == id).Version - 1))), ignoreOrder: true);
        first.Count.ShouldBe(6); // 240 payments, 40 a page
        Landed(second, "payment_id").ShouldBe(tick.UpdatedPayments.Concat(tick.InsertedPayments).Select(id => sim.Shop.Versions(ShopApiKind.Payments).Single(v => v.Id == id)), ignoreOrder: true);
    }

    [Fact]
    public async Task Shipments_BearerAndOAuth_LandTheSameRecords()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions { Latency = TimeSpan.Zero }, cancellationToken: Ct);
        var bearer = Source(Spec(Shipments(sim, "{type: bearer, token: sim-key}")), new HttpClientHandler());
        var oauth = Source(Spec(Shipments(sim, $"{{type: oauth2_client_credentials, token_url: \"{sim.BaseUrl}oauth/token\", client_id: sim-client, client_secret: sim-key}}")), new HttpClientHandler());

        var withBearer = await RunAsync(bearer);
        var withOAuth = await RunAsync(oauth);

        Landed(withBearer, "shipment_id").Count.ShouldBe(130);
        Landed(withOAuth, "shipment_id").ShouldBe(Landed(withBearer, "shipment_id"));
        withOAuth.Count.ShouldBe(6); // 130 at 25 a page: the total stops it after the short sixth page
        sim.TokenRequests.ShouldBe(1);
    }

    [Fact]
    public async Task Shipments_TokenRevokedMidway_IsRenewedOnTheFirst401()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions { Latency = TimeSpan.Zero }, cancellationToken: Ct);
        var source = Source(Spec(Shipments(sim, $"{{type: oauth2_client_credentials, token_url: \"{sim.BaseUrl}oauth/token\", client_id: sim-client, client_secret: sim-key}}")), new HttpClientHandler());
        await RunAsync(source);

        using (var admin = new HttpClient()) (await admin.PostAsync($"{sim.BaseUrl}admin/revoke-tokens", null, Ct)).Dispose();
        var again = await RunAsync(source);

        Landed(again, "shipment_id").Count.ShouldBe(130);
        sim.TokenRequests.ShouldBe(2);
    }

    [Fact]
    public async Task Payments_ApiIgnoringSince_FilteredClientSide()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions { Latency = TimeSpan.Zero }, new ShopOptions { IgnoreSince = true }, Ct);
        var source = Source(Spec(Payments(sim)), new HttpClientHandler());
        var first = await RunAsync(source);

        var tick = sim.Shop!.Tick(TimeSpan.FromHours(1), updates: 4, inserts: 1);
        var second = await RunAsync(source, Request(Mark("payments", first[^1].Cursor!, first[^1].CursorMemo)));

        second.Count.ShouldBe(7); // the API served all 241 payments again, 40 a page
        Landed(second, "payment_id").Select(v => v.Id).ShouldBe(tick.UpdatedPayments.Concat(tick.InsertedPayments), ignoreOrder: true);
    }

    [Fact]
    public async Task Payments_FaultsAndRateLimit_RetriedAndEveryRecordOnce()
    {
        // Given an API failing a third of its data requests (5xx, 429 with and without Retry-After, resets, cut bodies)
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions
        {
            Latency = TimeSpan.Zero, FailRate = 0.33, Seed = 11, RetryAfterSeconds = 0,
            Faults = FaultKinds.ServerError5xx | FaultKinds.TooManyRequests429 | FaultKinds.TooManyRequests429RetryAfter | FaultKinds.ConnectionReset | FaultKinds.TruncatedBody,
        }, cancellationToken: Ct);
        var source = Source(Spec(Payments(sim)), new HttpClientHandler(), retries: 8);

        // When
        var pages = await RunAsync(source);

        // Then the retries got every page: each payment once, and faults were really served
        Landed(pages, "payment_id").ShouldBe(sim.Shop!.Versions(ShopApiKind.Payments), ignoreOrder: true);
        sim.Requests.Count(r => r.Fault is not null).ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Payments_BadKey_FailsWithTheApisMessageAndNoKey()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions { Latency = TimeSpan.Zero }, cancellationToken: Ct);
        var spec = Spec(Payments(sim, "wrong-key-0042"));
        Ingot.Engine.PipelineRunner.RegisterSecrets(TestPipelines.Parse("name: x\nsource:\n  type: rest\n" + Payments(sim, "wrong-key-0042") + "destinations:\n  - {type: raw, path: ./lake}\n", "x.yaml", _ => null));
        var source = Source(spec, new HttpClientHandler());

        var failure = await Should.ThrowAsync<HttpFailure>(() => RunAsync(source));

        failure.Message.ShouldEndWith("HTTP 401: Invalid API key provided.");
        failure.Message.ShouldNotContain("wrong-key-0042");
    }
}
