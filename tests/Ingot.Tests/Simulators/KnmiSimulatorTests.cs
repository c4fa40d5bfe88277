using System.Net;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.Simulators;

public sealed class KnmiSimulatorTests
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private const string Hourly = "hourly-in-situ-meteorological-observations-validated";
    private const string TenMinute = "10-minute-in-situ-meteorological-observations";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpClient Client(string? key = "sim-key")
    {
        var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", key);
        }

        return client;
    }

    private static string DataUrl(SimulatorHost host, string collection, string stations, string datetime, string? parameters) =>
        $"{host.BaseUrl}/collections/{collection}/locations/{stations}?datetime={datetime}" + (parameters is null ? "" : $"&parameter-name={parameters}");

    [Fact]
    public async Task Auth_MissingHeader_Returns401TykBody()
    {
        // Given
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = Client(key: null);

        // When
        using var response = await client.GetAsync($"{host.BaseUrl}/collections", Ct);

        // Then
        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"error": "Authorization field missing"}""");
        host.Requests.Single().Authorized.ShouldBeFalse();
    }

    [Fact]
    public async Task Auth_WrongKey_Returns403TykBody()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = Client(key: "Bearer sim-key");

        using var response = await client.GetAsync($"{host.BaseUrl}/collections", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"error": "Access to this API has been disallowed"}""");
    }

    [Fact]
    public async Task Data_OverDataPointLimit_Returns413WithTotalDatapoints()
    {
        // Given 1 station x 366 daily stamps (2000-01-01..2000-12-31, closed) x 3 parameters = 1098 points
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { DataPointLimit = 1000 }, Ct);
        using var client = Client();

        // When
        using var over = await client.GetAsync(DataUrl(host, Daily, "0-20000-0-06260", "2000-01-01T00:00:00Z/2000-12-31T00:00:00Z", "TX,TN,RH"), Ct);
        using var under = await client.GetAsync(DataUrl(host, Daily, "0-20000-0-06260", "2000-01-01T00:00:00Z/2000-12-31T00:00:00Z", "TX,TN"), Ct);

        // Then
        over.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        (await over.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"detail":"Maximum number of requested data points exceeded (total_datapoints=1098)"}""");
        under.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Data_RangeBeyondExtent_CountsOnlyStepsInsideExtent()
    {
        // Given a range that starts before the daily extent (first stamp 1951-01-02)
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { DataPointLimit = 10 }, Ct);
        using var client = Client();

        using var response = await client.GetAsync(DataUrl(host, Daily, "0-20000-0-06260", "1950-01-01T00:00:00Z/1951-01-31T00:00:00Z", "TG"), Ct);

        (await response.Content.ReadAsStringAsync(Ct)).ShouldContain("total_datapoints=30)");
    }

    [Fact]
    public async Task Data_DailyClosedInterval_StampsDayPlusOneIncludingBothEnds()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = Client();

        using var response = await client.GetAsync(DataUrl(host, Daily, "0-20000-0-06260", "2024-01-02T00:00:00Z/2024-01-04T00:00:00Z", "TX"), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/prs.coverage+json");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var t = doc.RootElement.GetProperty("coverages")[0].GetProperty("domain").GetProperty("axes").GetProperty("t").GetProperty("values");
        t.EnumerateArray().Select(v => v.GetString()).ShouldBe(["2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"]);
    }

    [Fact]
    public async Task Data_TenMinuteMultiStation_CoverageCollectionValuesMatchKnmiData()
    {
        // Given
        string[] stations = ["0-20000-0-06240", "0-20000-0-06260", "0-20000-0-06380"];
        string[] parameters = ["ta", "rh"];
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { Seed = 7 }, Ct);
        using var client = Client();

        // When
        using var response = await client.GetAsync(DataUrl(host, TenMinute, string.Join(',', stations), "2024-06-01T00:00:00Z/2024-06-02T23:59:59Z", string.Join(',', parameters)), Ct);

        // Then
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var root = doc.RootElement;
        root.GetProperty("type").GetString().ShouldBe("CoverageCollection");
        root.GetProperty("parameters").EnumerateObject().Select(p => p.Name).ShouldBe(parameters);
        root.GetProperty("referencing").GetArrayLength().ShouldBe(2);
        var coverages = root.GetProperty("coverages");
        coverages.GetArrayLength().ShouldBe(3);
        var nulls = 0;
        for (var i = 0; i < stations.Length; i++)
        {
            var coverage = coverages[i];
            coverage.GetProperty("type").GetString().ShouldBe("Coverage");
            coverage.GetProperty("eumetnet:locationId").GetString().ShouldBe(stations[i]);
            var domain = coverage.GetProperty("domain");
            domain.GetProperty("domainType").GetString().ShouldBe("PointSeries");
            var times = domain.GetProperty("axes").GetProperty("t").GetProperty("values").EnumerateArray()
                .Select(v => DateTimeOffset.Parse(v.GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            times.Length.ShouldBe(288); // 00:00 .. 23:50 on the second day, every 10 minutes
            foreach (var p in parameters)
            {
                var range = coverage.GetProperty("ranges").GetProperty(p);
                range.GetProperty("axisNames").EnumerateArray().Select(a => a.GetString()).ShouldBe(["t", "y", "x"]);
                range.GetProperty("shape").EnumerateArray().Select(a => a.GetInt32()).ShouldBe([288, 1, 1]);
                var values = range.GetProperty("values").EnumerateArray().ToArray();
                for (var k = 0; k < times.Length; k++)
                {
                    var expected = KnmiData.Value(7, stations[i], times[k], p);
                    if (expected is null)
                    {
                        nulls++;
                        values[k].ValueKind.ShouldBe(JsonValueKind.Null);
                    }
                    else
                    {
                        values[k].GetDouble().ShouldBe(expected.Value);
                    }
                }
            }
        }

        nulls.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Data_SingleStationWithBareOption_ReturnsBareCoverage()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { BareCoverageForSingleStation = true }, Ct);
        using var client = Client();

        using var response = await client.GetAsync(DataUrl(host, Hourly, "0-20000-0-06283", "2024-01-01T00:00:00Z/2024-01-01T05:00:00Z", "T,RH"), Ct);

        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        doc.RootElement.GetProperty("type").GetString().ShouldBe("Coverage");
        doc.RootElement.GetProperty("eumetnet:locationId").GetString().ShouldBe("0-20000-0-06283");
        doc.RootElement.GetProperty("ranges").GetProperty("T").GetProperty("values").GetArrayLength().ShouldBe(6);
    }

    [Fact]
    public async Task Data_SameSeed_ServesIdenticalBodies()
    {
        var url = "/collections/" + Hourly + "/locations/0-20000-0-06260?datetime=2020-03-01T00:00:00Z/2020-03-03T00:00:00Z";
        await using var a = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { Seed = 1 }, Ct);
        await using var b = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { Seed = 1 }, Ct);
        await using var c = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { Seed = 2 }, Ct);
        using var client = Client();

        var bodyA = await client.GetStringAsync(a.BaseUrl + url, Ct);
        var bodyB = await client.GetStringAsync(b.BaseUrl + url, Ct);
        var bodyC = await client.GetStringAsync(c.BaseUrl + url, Ct);

        bodyA.ShouldBe(bodyB);
        bodyA.ShouldNotBe(bodyC);
        bodyA.ShouldContain("\"T10N\""); // no parameter-name: every parameter of the collection
    }

    [Fact]
    public async Task Data_UnknownParameter_Returns400Detail()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = Client();

        using var response = await client.GetAsync(DataUrl(host, Daily, "0-20000-0-06260", "2024-01-02T00:00:00Z/2024-01-04T00:00:00Z", "TX,XX"), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"detail":"Unknown parameter-name ['XX']"}""");
    }

    [Fact]
    public async Task Data_RangeWithoutStamps_Returns404NoData()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = Client();

        using var response = await client.GetAsync(DataUrl(host, Daily, "0-20000-0-06260", "2024-01-02T01:00:00Z/2024-01-02T23:00:00Z", "TX"), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"detail":"No data found for query"}""");
    }

    [Fact]
    public async Task Data_UnknownStation_Returns400Detail()
    {
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions(), Ct);
        using var client = Client();

        using var response = await client.GetAsync(DataUrl(host, Daily, "0-20000-0-06260,0-20000-0-99999", "2024-01-02T00:00:00Z/2024-01-04T00:00:00Z", "TX"), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldContain("0-20000-0-99999");
    }

    [Fact]
    public async Task Metadata_CollectionAndLocations_DescribeExtentParametersAndStations()
    {
        var clock = new ManualClock(new DateTimeOffset(2025, 11, 17, 13, 37, 0, TimeSpan.Zero));
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { TimeProvider = clock }, Ct);
        using var client = Client();

        using var collection = JsonDocument.Parse(await client.GetStringAsync($"{host.BaseUrl}/collections/{Daily}", Ct));
        using var locations = JsonDocument.Parse(await client.GetStringAsync($"{host.BaseUrl}/collections/{Daily}/locations", Ct));
        using var list = JsonDocument.Parse(await client.GetStringAsync($"{host.BaseUrl}/collections", Ct));

        var interval = collection.RootElement.GetProperty("extent").GetProperty("temporal").GetProperty("interval")[0];
        interval[1].GetString().ShouldBe("2025-11-17T00:00:00Z");
        collection.RootElement.GetProperty("parameter_names").TryGetProperty("TG", out _).ShouldBeTrue();
        collection.RootElement.GetProperty("data_queries").TryGetProperty("locations", out _).ShouldBeTrue();
        var features = locations.RootElement.GetProperty("features").EnumerateArray().ToArray();
        features.Select(f => f.GetProperty("id").GetString()).ShouldBe(KnmiData.Stations);
        features.Length.ShouldBeGreaterThanOrEqualTo(10);
        features[0].GetProperty("geometry").GetProperty("coordinates").GetArrayLength().ShouldBe(2);
        list.RootElement.GetProperty("collections").GetArrayLength().ShouldBe(3);
        host.DataRequestCount.ShouldBe(0);
    }

    [Fact]
    public async Task RateLimit_OverPerSecondWindow_Returns429UntilWindowRolls()
    {
        // Given
        var clock = new ManualClock(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { TimeProvider = clock, RateLimitPerSecond = 3 }, Ct);
        using var client = Client();
        var url = $"{host.BaseUrl}/collections";

        // When
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var r = await client.GetAsync(url, Ct);
            statuses.Add(r.StatusCode);
            if (i == 3)
            {
                (await r.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"error": "Rate limit exceeded"}""");
                r.Headers.GetValues("X-RateLimit-Limit").Single().ShouldBe("3");
                r.Headers.GetValues("X-RateLimit-Remaining").Single().ShouldBe("0");
                r.Headers.Contains("Retry-After").ShouldBeFalse();
            }
        }

        clock.Advance(TimeSpan.FromSeconds(1));
        using var after = await client.GetAsync(url, Ct);

        // Then
        statuses.ShouldBe([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, (HttpStatusCode)429]);
        after.StatusCode.ShouldBe(HttpStatusCode.OK);
        host.Requests[3].Fault.ShouldBe("RateLimited");
    }

    [Theory]
    [InlineData(false, 403)]
    [InlineData(true, 429)]
    public async Task Quota_Exhausted_ReturnsQuotaExceededWithConfiguredStatus(bool as429, int expected)
    {
        var clock = new ManualClock(new DateTimeOffset(2025, 1, 1, 10, 15, 0, TimeSpan.Zero));
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { TimeProvider = clock, DailyQuota = 2, QuotaExceededAs429 = as429 }, Ct);
        using var client = Client();
        var url = $"{host.BaseUrl}/collections";

        using var first = await client.GetAsync(url, Ct);
        using var second = await client.GetAsync(url, Ct);
        using var third = await client.GetAsync(url, Ct);
        clock.Advance(TimeSpan.FromHours(1));
        using var nextHour = await client.GetAsync(url, Ct);

        first.Headers.GetValues("X-RateLimit-Remaining").Single().ShouldBe("1");
        second.StatusCode.ShouldBe(HttpStatusCode.OK);
        ((int)third.StatusCode).ShouldBe(expected);
        (await third.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"error": "Quota exceeded"}""");
        third.Headers.GetValues("X-RateLimit-Reset").Single().ShouldBe(new DateTimeOffset(2025, 1, 1, 11, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        nextHour.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Fault_ServerError5xx_Returns5xxWithSmallBody()
    {
        await using var host = await StartFaulty(FaultKinds.ServerError5xx);
        using var client = Client();

        for (var i = 0; i < 6; i++)
        {
            using var response = await client.GetAsync(SmallDaily(host), Ct);
            ((int)response.StatusCode).ShouldBeOneOf(500, 502, 503);
            (await response.Content.ReadAsStringAsync(Ct)).Length.ShouldBeLessThan(100);
        }

        host.Requests.ShouldAllBe(r => r.Fault == "ServerError5xx");
        host.DataRequestCount.ShouldBe(6);
    }

    [Fact]
    public async Task Fault_TooManyRequests429_Returns429WithoutRetryAfter()
    {
        await using var host = await StartFaulty(FaultKinds.TooManyRequests429);
        using var client = Client();

        using var response = await client.GetAsync(SmallDaily(host), Ct);

        ((int)response.StatusCode).ShouldBe(429);
        response.Headers.RetryAfter.ShouldBeNull();
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"error": "Rate limit exceeded"}""");
        host.Requests.Single().Fault.ShouldBe("TooManyRequests429");
    }

    [Fact]
    public async Task Fault_TooManyRequests429RetryAfter_SendsRetryAfterSeconds()
    {
        await using var host = await StartFaulty(FaultKinds.TooManyRequests429RetryAfter, retryAfter: 7);
        using var client = Client();

        using var response = await client.GetAsync(SmallDaily(host), Ct);

        ((int)response.StatusCode).ShouldBe(429);
        response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(7));
        host.Requests.Single().RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
    }

    [Fact]
    public async Task Fault_ConnectionReset_ClientSeesNoResponse()
    {
        await using var host = await StartFaulty(FaultKinds.ConnectionReset);
        using var client = Client();

        await Should.ThrowAsync<HttpRequestException>(() => client.GetAsync(SmallDaily(host), Ct));

        await WaitForLogAsync(host, 1);
        host.Requests.Single().ShouldSatisfyAllConditions(r => r.Fault.ShouldBe("ConnectionReset"), r => r.Status.ShouldBe(0));
    }

    [Fact]
    public async Task Fault_TruncatedBody_ClientFailsReadingBody()
    {
        await using var host = await StartFaulty(FaultKinds.TruncatedBody);
        using var client = Client();

        var error = await Should.ThrowAsync<Exception>(async () =>
        {
            using var response = await client.GetAsync(SmallDaily(host), HttpCompletionOption.ResponseHeadersRead, Ct);
            response.Content.Headers.ContentLength.ShouldNotBeNull().ShouldBeGreaterThan(100);
            await response.Content.ReadAsByteArrayAsync(Ct);
        });

        (error is HttpRequestException or IOException).ShouldBeTrue(error.ToString());
        await WaitForLogAsync(host, 1);
        host.Requests.Single().Fault.ShouldBe("TruncatedBody");
    }

    [Fact]
    public async Task Fault_OnlyDataRequests_MetadataIsNeverFaulted()
    {
        await using var host = await StartFaulty(FaultKinds.All);
        using var client = Client();

        using var response = await client.GetAsync($"{host.BaseUrl}/collections/{Daily}", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Capacity_FarBeyondCapacity_ShedsShareWith503()
    {
        // Given capacity 2 and 16 concurrent requests: everything past 2x capacity competes for shedding
        await using var host = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { Capacity = 2, Latency = TimeSpan.FromMilliseconds(200) }, Ct);
        using var client = Client();

        // When
        var tasks = Enumerable.Range(0, 16).Select(_ => client.GetAsync($"{host.BaseUrl}/collections", Ct)).ToArray();
        var responses = await Task.WhenAll(tasks);

        // Then
        var shed = responses.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToArray();
        shed.ShouldNotBeEmpty();
        (await shed[0].Content.ReadAsStringAsync(Ct)).ShouldBe("""{"error": "Service overloaded"}""");
        responses.ShouldContain(r => r.StatusCode == HttpStatusCode.OK);
        host.Requests.Max(r => r.Concurrent).ShouldBeGreaterThan(4);
        host.Requests.Where(r => r.Status == 503).ShouldAllBe(r => r.Fault == "Overloaded" && r.Concurrent > 4);
        foreach (var r in responses)
        {
            r.Dispose();
        }
    }

    private static Task<SimulatorHost> StartFaulty(FaultKinds kind, int retryAfter = 1) =>
        SimulatorHost.StartKnmiAsync(new SimulatorOptions { FailRate = 1, Faults = kind, RetryAfterSeconds = retryAfter }, Ct);

    private static string SmallDaily(SimulatorHost host) => DataUrl(host, Daily, "0-20000-0-06260", "2024-01-02T00:00:00Z/2024-01-31T00:00:00Z", "TX,TN");

    private static async Task WaitForLogAsync(SimulatorHost host, int count)
    {
        // The server logs a reset request after the client already saw the failure.
        for (var i = 0; i < 100 && host.Requests.Count < count; i++)
        {
            await Task.Delay(20, Ct);
        }
    }
}
