using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.Simulators;

public sealed class ShopSimulatorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpClient Client(string? key = "sim-key", string? bearer = null)
    {
        var client = new HttpClient();
        if (key is not null) client.DefaultRequestHeaders.TryAddWithoutValidation("x-api-key", key);
        if (bearer is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();
    }

    [Fact]
    public async Task Payments_BadKey_401WithJsonError()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), cancellationToken: Ct);
        using var client = Client("wrong");

        using var response = await client.GetAsync($"{sim.BaseUrl}v1/payments", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"error":"unauthorized","message":"Invalid API key provided."}""");
    }

    [Fact]
    public async Task Shipments_NoBearer_401WithChallenge()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), cancellationToken: Ct);
        using var client = Client(key: null);

        using var response = await client.GetAsync($"{sim.BaseUrl}v1/shipments", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.ToString().ShouldStartWith("Bearer");
        (await response.Content.ReadAsStringAsync(Ct)).ShouldContain("\"error\":\"invalid_token\"");
    }

    [Fact]
    public async Task Payments_SameSeed_SameBytes_OtherSeed_OtherData()
    {
        await using var a = await SimulatorHost.StartShopAsync(new SimulatorOptions { Seed = 7 }, cancellationToken: Ct);
        await using var b = await SimulatorHost.StartShopAsync(new SimulatorOptions { Seed = 7 }, cancellationToken: Ct);
        await using var c = await SimulatorHost.StartShopAsync(new SimulatorOptions { Seed = 8 }, cancellationToken: Ct);
        using var client = Client();

        var first = await client.GetStringAsync($"{a.BaseUrl}v1/payments?limit=200", Ct);
        var second = await client.GetStringAsync($"{b.BaseUrl}v1/payments?limit=200", Ct);
        var other = await client.GetStringAsync($"{c.BaseUrl}v1/payments?limit=200", Ct);

        second.ShouldBe(first);
        other.ShouldNotBe(first);
    }

    [Fact]
    public async Task Payments_CursorPages_WalkEveryRecordOnceInUpdatedOrder()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), new ShopOptions { Payments = 120 }, Ct);
        using var client = Client();
        var ids = new List<string>();
        var stamps = new List<DateTimeOffset>();
        string? cursor = null;
        for (var pages = 0; pages < 10; pages++)
        {
            var page = await GetJsonAsync(client, $"{sim.BaseUrl}v1/payments?limit=50{(cursor is null ? "" : "&cursor=" + cursor)}");
            foreach (var p in page.GetProperty("data").EnumerateArray())
            {
                ids.Add(p.GetProperty("payment_id").GetString()!);
                var text = p.GetProperty("updated_at").GetString()!;
                text.ShouldEndWith("+00:00");
                stamps.Add(DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
            }
            var next = page.GetProperty("meta").GetProperty("next_cursor");
            if (next.ValueKind == JsonValueKind.Null) break;
            cursor = next.GetString();
        }

        ids.Count.ShouldBe(120);
        ids.Distinct().Count().ShouldBe(120);
        stamps.ShouldBe(stamps.Order().ToList());
    }

    [Fact]
    public async Task Shipments_Pages_CarryTotalsAndCetOffsets()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), new ShopOptions { Shipments = 30 }, Ct);
        using var client = Client(key: null, bearer: "sim-key");

        var page2 = await GetJsonAsync(client, $"{sim.BaseUrl}v1/shipments?page=2&per_page=20");

        page2.GetProperty("shipments").GetArrayLength().ShouldBe(10);
        page2.GetProperty("meta").GetProperty("total").GetInt32().ShouldBe(30);
        page2.GetProperty("meta").GetProperty("total_pages").GetInt32().ShouldBe(2);
        page2.GetProperty("shipments")[0].GetProperty("updated_at").GetString()!.ShouldEndWith("+01:00");
    }

    [Fact]
    public async Task Since_IsInclusiveAndNeedsAZone()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), new ShopOptions { Payments = 150 }, Ct);
        using var client = Client();
        var all = (await GetJsonAsync(client, $"{sim.BaseUrl}v1/payments?limit=200")).GetProperty("data").EnumerateArray().ToList();
        var pivot = all[100].GetProperty("updated_at").GetString()!;

        var since = await GetJsonAsync(client, $"{sim.BaseUrl}v1/payments?limit=200&since={Uri.EscapeDataString(pivot)}");
        using var bad = await client.GetAsync($"{sim.BaseUrl}v1/payments?since=2024-01-01T00:00:00", Ct);

        since.GetProperty("data")[0].GetProperty("updated_at").GetString().ShouldBe(pivot);
        static DateTimeOffset At(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        since.GetProperty("data").GetArrayLength().ShouldBe(all.Count(p => At(p.GetProperty("updated_at").GetString()!) >= At(pivot)));
        bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Tick_GivesNewVersionsStampedInsideTheTick()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), cancellationToken: Ct);
        var before = sim.Shop!.Now;
        using var client = new HttpClient();

        using var response = await client.PostAsync($"{sim.BaseUrl}admin/tick?minutes=30&updates=5&inserts=2", null, Ct);
        var tick = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;

        tick.GetProperty("payments").GetProperty("updated").GetArrayLength().ShouldBe(5);
        tick.GetProperty("payments").GetProperty("inserted").GetArrayLength().ShouldBe(2);
        sim.Shop.Now.ShouldBe(before.AddMinutes(30));
        using var api = Client();
        var changed = await GetJsonAsync(api, $"{sim.BaseUrl}v1/payments?since={Uri.EscapeDataString(before.AddSeconds(1).ToString("O"))}&limit=200");
        changed.GetProperty("data").GetArrayLength().ShouldBe(7);
        changed.GetProperty("data").EnumerateArray().Where(p => p.GetProperty("version").GetInt32() > 1).Count().ShouldBe(5);
    }

    [Fact]
    public async Task Tick_SameSeedSameTicks_SameData()
    {
        var a = new ShopData(3, new ShopOptions());
        var b = new ShopData(3, new ShopOptions());

        a.Tick(TimeSpan.FromHours(1), 10, 3);
        b.Tick(TimeSpan.FromHours(1), 10, 3);

        a.Versions(ShopApiKind.Payments).ShouldBe(b.Versions(ShopApiKind.Payments));
        a.Versions(ShopApiKind.Shipments).ShouldBe(b.Versions(ShopApiKind.Shipments));
    }

    [Fact]
    public async Task Down_Answers503WithRetryAfterUntilUp()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), new ShopOptions { Down = [ShopApiKind.Payments] }, Ct);
        using var client = Client(bearer: "sim-key");
        using var admin = new HttpClient();

        using var down = await client.GetAsync($"{sim.BaseUrl}v1/payments", Ct);
        using var other = await client.GetAsync($"{sim.BaseUrl}v1/shipments", Ct);
        (await admin.PostAsync($"{sim.BaseUrl}admin/up?api=payments", null, Ct)).Dispose();
        using var up = await client.GetAsync($"{sim.BaseUrl}v1/payments", Ct);

        down.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        down.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(1));
        other.StatusCode.ShouldBe(HttpStatusCode.OK);
        up.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task OAuthToken_OpensShipmentsUntilRevoked()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), cancellationToken: Ct);
        using var client = new HttpClient();

        using var bad = await client.PostAsync($"{sim.BaseUrl}oauth/token", new FormUrlEncodedContent([new("grant_type", "client_credentials"), new("client_id", "sim-client"), new("client_secret", "nope")]), Ct);
        using var good = await client.PostAsync($"{sim.BaseUrl}oauth/token", new FormUrlEncodedContent([new("grant_type", "client_credentials"), new("client_id", "sim-client"), new("client_secret", "sim-key")]), Ct);
        var token = JsonDocument.Parse(await good.Content.ReadAsStringAsync(Ct)).RootElement;
        using var api = Client(key: null, bearer: token.GetProperty("access_token").GetString());
        using var open = await api.GetAsync($"{sim.BaseUrl}v1/shipments", Ct);
        (await client.PostAsync($"{sim.BaseUrl}admin/revoke-tokens", null, Ct)).Dispose();
        using var revoked = await api.GetAsync($"{sim.BaseUrl}v1/shipments", Ct);

        bad.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        token.GetProperty("token_type").GetString().ShouldBe("Bearer");
        token.GetProperty("expires_in").GetInt32().ShouldBe(3600);
        open.StatusCode.ShouldBe(HttpStatusCode.OK);
        revoked.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        sim.TokenRequests.ShouldBe(2);
    }

    [Fact]
    public async Task AdminUpsert_NewVersionAtTheClocksNow()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions(), cancellationToken: Ct);
        using var client = new HttpClient();

        using var response = await client.PostAsync($"{sim.BaseUrl}admin/payments", new StringContent("""{"payment_id":"pay_000001","status":"refunded"}""", Encoding.UTF8, "application/json"), Ct);
        var record = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        record.GetProperty("status").GetString().ShouldBe("refunded");
        record.GetProperty("version").GetInt32().ShouldBe(2);
        DateTimeOffset.Parse(record.GetProperty("updated_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ShouldBe(sim.Shop!.Now);
    }

    [Fact]
    public async Task Faults_AreInjectedIntoDataRequestsOnly()
    {
        await using var sim = await SimulatorHost.StartShopAsync(new SimulatorOptions { FailRate = 1, Faults = FaultKinds.ServerError5xx }, cancellationToken: Ct);
        using var client = Client();

        using var data = await client.GetAsync($"{sim.BaseUrl}v1/payments", Ct);
        using var admin = await client.GetAsync($"{sim.BaseUrl}admin/state", Ct);

        ((int)data.StatusCode).ShouldBeGreaterThanOrEqualTo(500);
        admin.StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
