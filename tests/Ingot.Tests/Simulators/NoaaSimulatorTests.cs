using System.Globalization;
using System.Net;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.Simulators;

public sealed class NoaaSimulatorTests
{
    private const string Station = "COOP:010008";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpClient Client(string? token = "sim-key")
    {
        var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("token", token);
        }

        return client;
    }

    private static string DataUrl(SimulatorHost host, string query) => $"{host.BaseUrl}/data?{query}";

    private static SimulatorOptions Unlimited(int seed = 42) => new() { Seed = seed, RateLimitPerSecond = double.PositiveInfinity };

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    public async Task Auth_MissingOrInvalidToken_Returns400JsonBody(string? token)
    {
        await using var host = await SimulatorHost.StartNoaaAsync(Unlimited(), Ct);
        using var client = Client(token);

        using var response = await client.GetAsync($"{host.BaseUrl}/datasets", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"status" : "400", "message" : "The token parameter provided is not valid."}""");
    }

    [Fact]
    public async Task Data_Paging_OneBasedOffsetsTotalCountAndEmptyPastEnd()
    {
        // Given
        await using var host = await SimulatorHost.StartNoaaAsync(Unlimited(seed: 3), Ct);
        using var client = Client();
        var expected = NoaaData.Records(3, [Station, "COOP:111577"], ["QPCP"], new DateTime(2010, 1, 1), new DateTime(2010, 6, 30, 23, 59, 59));
        expected.Count.ShouldBeGreaterThan(100);
        const int limit = 100;

        // When
        var served = new List<NoaaRecord>();
        for (var offset = 1; offset <= expected.Count; offset += limit)
        {
            using var response = await client.GetAsync(DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&stationid=COOP:111577&datatypeid=QPCP&startdate=2010-01-01&enddate=2010-06-30T23:59:59&limit={limit}&offset={offset}"), Ct);
            response.Content.Headers.NonValidated["Content-Type"].ToString().ShouldBe("application/json;charset=UTF-8");
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
            var resultset = doc.RootElement.GetProperty("metadata").GetProperty("resultset");
            resultset.GetProperty("offset").GetInt32().ShouldBe(offset);
            resultset.GetProperty("count").GetInt32().ShouldBe(expected.Count);
            resultset.GetProperty("limit").GetInt32().ShouldBe(limit);
            served.AddRange(doc.RootElement.GetProperty("results").EnumerateArray().Select(Parse));
        }

        var pastEnd = await client.GetStringAsync(DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&stationid=COOP:111577&datatypeid=QPCP&startdate=2010-01-01&enddate=2010-06-30T23:59:59&limit={limit}&offset={expected.Count + 1}"), Ct);

        // Then
        served.ShouldBe(expected);
        pastEnd.ShouldBe("{}");
    }

    [Fact]
    public async Task Data_EndDate_IsInclusive()
    {
        await using var host = await SimulatorHost.StartNoaaAsync(Unlimited(), Ct);
        using var client = Client();
        var first = NoaaData.Records(42, [Station], [], new DateTime(2011, 3, 1), new DateTime(2011, 5, 31))[0];
        var at = first.Date.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        var before = first.Date.AddSeconds(-1).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);

        using var inclusive = JsonDocument.Parse(await client.GetStringAsync(DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&startdate=2011-03-01&enddate={at}"), Ct));
        var exclusive = await client.GetStringAsync(DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&startdate=2011-03-01&enddate={before}"), Ct);

        Parse(inclusive.RootElement.GetProperty("results").EnumerateArray().Last()).Date.ShouldBe(first.Date);
        exclusive.ShouldBe("{}");
    }

    [Fact]
    public async Task Data_IncludeMetadataFalse_OmitsMetadata()
    {
        await using var host = await SimulatorHost.StartNoaaAsync(Unlimited(), Ct);
        using var client = Client();

        using var doc = JsonDocument.Parse(await client.GetStringAsync(DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&startdate=2010-05-01&enddate=2010-08-31&includemetadata=false&units=standard"), Ct));

        doc.RootElement.TryGetProperty("metadata", out _).ShouldBeFalse();
        doc.RootElement.GetProperty("results").GetArrayLength().ShouldBe(25);
        var expected = NoaaData.Records(42, [Station], [], new DateTime(2010, 5, 1), new DateTime(2010, 8, 31), "standard").Take(25);
        doc.RootElement.GetProperty("results").EnumerateArray().Select(Parse).ShouldBe(expected);
    }

    [Theory]
    [InlineData("datasetid=PRECIP_15&startdate=2010-01-01&enddate=2011-01-01", "The date range must be less than 1 year.")]
    [InlineData("datasetid=PRECIP_15&startdate=2010-01-01&enddate=2010-02-01&limit=1001", "Limit may not exceed 1000.")]
    [InlineData("startdate=2010-01-01&enddate=2010-02-01", "Data requests require exactly one datasetid.")]
    [InlineData("datasetid=PRECIP_15&enddate=2010-02-01", "Required parameter 'startdate' is missing.")]
    [InlineData("datasetid=PRECIP_15&startdate=2010-01-01T00:00:00Z&enddate=2010-02-01", "Start date is required and must be in ISO format.")]
    [InlineData("datasetid=PRECIP_15&startdate=2010-01-01&enddate=2010-02-01T00:00:00.000", "End date is required and must be in ISO format.")]
    public async Task Data_InvalidParameters_Returns400XmlFault(string query, string developerMessage)
    {
        await using var host = await SimulatorHost.StartNoaaAsync(Unlimited(), Ct);
        using var client = Client();

        using var response = await client.GetAsync(DataUrl(host, query), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/xml");
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe(
            $"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?><response><statusCode>400</statusCode><userMessage>There was an error with the request.</userMessage><developerMessage>{developerMessage}</developerMessage></response>""");
    }

    [Fact]
    public async Task Stations_UnknownId_Returns200EmptyObject()
    {
        await using var host = await SimulatorHost.StartNoaaAsync(Unlimited(), Ct);
        using var client = Client();

        using var unknown = await client.GetAsync($"{host.BaseUrl}/stations/COOP:999999", Ct);
        using var known = JsonDocument.Parse(await client.GetStringAsync($"{host.BaseUrl}/stations/{Station}", Ct));
        using var dataset = JsonDocument.Parse(await client.GetStringAsync($"{host.BaseUrl}/datasets/PRECIP_15", Ct));

        unknown.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await unknown.Content.ReadAsStringAsync(Ct)).ShouldBe("{}");
        known.RootElement.GetProperty("name").GetString().ShouldBe("ABBEVILLE, AL US");
        dataset.RootElement.GetProperty("mindate").GetString().ShouldBe("1970-05-12");
    }

    [Fact]
    public async Task RateLimit_SixthRequestInOneSecond_Returns429TemporaryLimitBody()
    {
        var clock = new ManualClock(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { TimeProvider = clock }, Ct);
        using var client = Client();

        var statuses = new List<int>();
        string last = "";
        for (var i = 0; i < 6; i++)
        {
            using var r = await client.GetAsync($"{host.BaseUrl}/datasets", Ct);
            statuses.Add((int)r.StatusCode);
            last = await r.Content.ReadAsStringAsync(Ct);
        }

        statuses.ShouldBe([200, 200, 200, 200, 200, 429]);
        last.ShouldBe("""{"status" : "429", "message" : "This token has reached its temporary request limit of 5 per second."}""");
    }

    [Fact]
    public async Task Quota_DailyExhausted_Returns429PerDayBodyCountingFaultedRequests()
    {
        // Given a quota of 3 and every data request faulted: faulted requests still count
        var clock = new ManualClock(new DateTimeOffset(2025, 3, 1, 23, 59, 0, TimeSpan.Zero));
        await using var host = await SimulatorHost.StartNoaaAsync(new SimulatorOptions
        {
            TimeProvider = clock, DailyQuota = 3, RateLimitPerSecond = double.PositiveInfinity, FailRate = 1, Faults = FaultKinds.ServerError5xx,
        }, Ct);
        using var client = Client();
        var url = DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&startdate=2010-05-01&enddate=2010-05-31");

        // When
        var statuses = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            using var r = await client.GetAsync(url, Ct);
            statuses.Add((int)r.StatusCode);
            if (i == 0)
            {
                (await r.Content.ReadAsStringAsync(Ct)).ShouldContain("An error occured while servicing your request.");
            }

            if (i == 3)
            {
                (await r.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"status" : "429", "message" : "This token has reached its request limit of 3 per day."}""");
            }
        }

        clock.Advance(TimeSpan.FromMinutes(2)); // next UTC day
        using var nextDay = await client.GetAsync($"{host.BaseUrl}/datasets", Ct);

        // Then
        statuses.ShouldBe([500, 500, 500, 429]);
        nextDay.StatusCode.ShouldBe(HttpStatusCode.OK);
        host.DataRequestCount.ShouldBe(4);
    }

    [Fact]
    public async Task Fault_HtmlPage_ServesHtmlWith200Or502()
    {
        await using var host = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { RateLimitPerSecond = double.PositiveInfinity, FailRate = 1, Faults = FaultKinds.HtmlPage }, Ct);
        using var client = Client();

        var statuses = new HashSet<int>();
        for (var i = 0; i < 12; i++)
        {
            using var r = await client.GetAsync(DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&startdate=2010-05-01&enddate=2010-05-31"), Ct);
            r.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
            var body = await r.Content.ReadAsStringAsync(Ct);
            body.ShouldStartWith("<!DOCTYPE");
            if (r.StatusCode == HttpStatusCode.BadGateway)
            {
                body.ShouldContain("Proxy Error");
            }

            statuses.Add((int)r.StatusCode);
        }

        statuses.OrderBy(s => s).ShouldBe([200, 502]);
        host.Requests.ShouldAllBe(r => r.Fault == "HtmlPage");
    }

    [Fact]
    public async Task Fault_AllKindsAtFailRateOne_EveryKindAppearsAndMetadataIsSpared()
    {
        await using var host = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { RateLimitPerSecond = double.PositiveInfinity, FailRate = 1, RetryAfterSeconds = 2 }, Ct);
        using var client = Client();
        var url = DataUrl(host, $"datasetid=PRECIP_15&stationid={Station}&startdate=2010-05-01&enddate=2010-08-31&limit=1000");

        for (var i = 0; i < 40; i++)
        {
            try
            {
                using var r = await client.GetAsync(url, Ct);
                await r.Content.ReadAsByteArrayAsync(Ct);
                if (r.StatusCode == (HttpStatusCode)429 && r.Headers.RetryAfter is { } ra)
                {
                    ra.Delta.ShouldBe(TimeSpan.FromSeconds(2));
                }
            }
            catch (HttpRequestException)
            {
                // resets and truncated bodies
            }
        }

        using var metadata = await client.GetAsync($"{host.BaseUrl}/datasets", Ct);
        for (var i = 0; i < 100 && host.Requests.Count < 41; i++)
        {
            await Task.Delay(20, Ct);
        }

        // Then
        metadata.StatusCode.ShouldBe(HttpStatusCode.OK);
        host.Requests.Where(r => r.PathAndQuery.Contains("/data?", StringComparison.Ordinal)).Select(r => r.Fault).Distinct().OrderBy(f => f)
            .ShouldBe(["ConnectionReset", "HtmlPage", "ServerError5xx", "TooManyRequests429", "TooManyRequests429RetryAfter", "TruncatedBody"]);
        host.Requests.Where(r => r.Fault == "TooManyRequests429RetryAfter").ShouldAllBe(r => r.RetryAfter == TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void Records_OneYearAllStations_SparseSortedWithAccumulationMarkers()
    {
        var records = NoaaData.Records(42, [], [], new DateTime(2005, 1, 1), new DateTime(2005, 12, 31, 23, 59, 59));

        // Sparse: far fewer than 10 stations x 2 types x 96 slots x 365 days.
        records.Count.ShouldBeInRange(1000, 60_000);
        records.ShouldBe(records.OrderBy(r => r.Date).ThenBy(r => r.Station, StringComparer.Ordinal).ThenBy(r => r.DataType, StringComparer.Ordinal).ToList());
        var markers = records.Where(r => r.Value == NoaaData.Sentinel).Select(r => r.Attributes[0]).Distinct().ToList();
        markers.ShouldContain('a');
        markers.ShouldContain('[');
        markers.ShouldContain(']');
        records.ShouldContain(r => r.Attributes.StartsWith('A') && r.Value != NoaaData.Sentinel);
        NoaaData.Records(42, [], [], new DateTime(2014, 1, 1), new DateTime(2014, 6, 1)).ShouldBeEmpty();
    }

    private static NoaaRecord Parse(JsonElement e) => new(
        DateTime.ParseExact(e.GetProperty("date").GetString()!, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture),
        e.GetProperty("datatype").GetString()!,
        e.GetProperty("station").GetString()!,
        e.GetProperty("attributes").GetString()!,
        e.GetProperty("value").GetDouble());
}
