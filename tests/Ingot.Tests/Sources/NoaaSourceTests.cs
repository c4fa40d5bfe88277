using Ingot.Destinations;
using Ingot.State;
using System.Net;
using System.Text;
using Ingot.Config;
using Ingot.Http;
using Ingot.Sources;
using Ingot.Sources.Noaa;

namespace Ingot.Tests.Sources;

/// <summary>NoaaSource against answers the simulator does not give for requests Ingot builds (fault injection by handler).</summary>
public sealed class NoaaSourceTests
{
    private sealed class Answer(HttpStatusCode status, string contentType, string body) : HttpMessageHandler
    {
        public List<Uri> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add(request.RequestUri!);
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, contentType) });
        }
    }

    private sealed class NoHttpEvents : IHttpObserver
    {
        public void OnAttempt(string chunkKey, int attempt) { }
        public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
        public void OnCircuitOpen(TimeSpan pause, string reason) { }
    }

    private static NoaaSourceSpec Spec() => new("http://noaa.test/cdo-web/api/v2", "tok", "PRECIP_15", ["COOP:010008", "COOP:010063"], ["QPCP"], "standard",
        new DateTimeOffset(2010, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2010, 3, 1, 0, 0, 0, TimeSpan.Zero), new IsoPeriod(1, TimeSpan.Zero, "P1M"), 1000, 10);

    private static NoaaSource Source(Answer answer) =>
        new(Spec(), new ResilientHttp(new HttpClient(answer), HttpSpec.Default with { Retries = 2, BackoffMin = TimeSpan.FromMilliseconds(1), BackoffMax = TimeSpan.FromMilliseconds(2) },
            TimeProvider.System, new NoHttpEvents(), null), TimeProvider.System);

    [Fact]
    public async Task FetchAsync_XmlBadRequest_FailsPermanentlyWithDevelopersMessage()
    {
        // Given NOAA answering 400 with its XML fault
        var answer = new Answer(HttpStatusCode.BadRequest, "application/xml",
            """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><response><statusCode>400</statusCode><userMessage>There was an error with the request.</userMessage><developerMessage>The date range must be less than 1 year.</developerMessage></response>""");
        var source = Source(answer);
        var chunk = source.Plan(Spec().Start, Spec().End!.Value)[0];

        // When the chunk is fetched
        var failure = await Should.ThrowAsync<HttpFailure>(() => FetchAllAsync(source, chunk));

        // Then it fails at once (no retry) with NOAA's developerMessage
        failure.Kind.ShouldBe(FailureKind.Permanent);
        failure.Message.ShouldBe("HTTP 400: The date range must be less than 1 year.");
        answer.Seen.Count.ShouldBe(1);
    }

    [Fact]
    public async Task FetchAsync_DailyLimit429_StopsAsQuotaExhausted()
    {
        var answer = new Answer((HttpStatusCode)429, "application/json", """{"status" : "429", "message" : "This token has reached its request limit of 10000 per day."}""");
        var source = Source(answer);
        var chunk = source.Plan(Spec().Start, Spec().End!.Value)[0];

        var failure = await Should.ThrowAsync<HttpFailure>(() => FetchAllAsync(source, chunk));

        failure.Kind.ShouldBe(FailureKind.QuotaExhausted);
        answer.Seen.Count.ShouldBe(1);
    }

    [Fact]
    public async Task FetchAsync_HtmlWithStatus200_IsRetriedAndNeverData()
    {
        var answer = new Answer(HttpStatusCode.OK, "text/html", "<html><head><title>Site maintenance</title></head><body>shutdown</body></html>");
        var source = Source(answer);
        var chunk = source.Plan(Spec().Start, Spec().End!.Value)[0];

        var failure = await Should.ThrowAsync<HttpFailure>(() => FetchAllAsync(source, chunk));

        failure.Kind.ShouldBe(FailureKind.Transient);
        answer.Seen.Count.ShouldBe(3, "first attempt + 2 retries");
    }

    [Fact]
    public async Task FetchAsync_Page_RecordsAreEachResultsTextAsServedAndOutOfWindowOnesDropped()
    {
        // Given a page with NOAA's spacing and field order, one result stamped at the window's end
        var body = """
            {"metadata":{"resultset":{"offset":1,"count":3,"limit":1000}},"results":[
              {"date":"2010-01-01T00:15:00","datatype":"QPCP","station":"COOP:010008","attributes":",,C,","value":0.01},
              {"date" : "2010-01-31T23:45:00", "datatype":"QPCP","station":"COOP:010063","attributes":"g,,C,","value":1.50},
              {"date":"2010-02-01T00:00:00","datatype":"QPCP","station":"COOP:010008","attributes":",,C,","value":0}]}
            """;
        var source = Source(new Answer(HttpStatusCode.OK, "application/json", body));
        var chunk = source.Plan(Spec().Start, Spec().End!.Value)[0];

        // When the January chunk is fetched
        var data = await FetchAllAsync(source, chunk);

        // Then each record is its result's text exactly as served (no object built), stamped with its date
        var records = data.Records.ToList();
        records.Count.ShouldBe(2);
        records.Select(r => r.TryGetUtf8(out var json) ? Encoding.UTF8.GetString(json.Span) : null).ShouldBe([
            """{"date":"2010-01-01T00:15:00","datatype":"QPCP","station":"COOP:010008","attributes":",,C,","value":0.01}""",
            """{"date" : "2010-01-31T23:45:00", "datatype":"QPCP","station":"COOP:010063","attributes":"g,,C,","value":1.50}"""]);
        records.Select(r => r.EventTs).ShouldBe([new DateTimeOffset(2010, 1, 1, 0, 15, 0, TimeSpan.Zero), new DateTimeOffset(2010, 1, 31, 23, 45, 0, TimeSpan.Zero)]);
        ((decimal?)records[1].Fields["value"]).ShouldBe(1.50m);
    }

    [Fact]
    public void Url_RepeatsStationAndDatatypeAndAsksTheWindowWithAnInclusiveEnd()
    {
        var source = Source(new Answer(HttpStatusCode.OK, "application/json", "{}"));
        var chunk = source.Plan(Spec().Start, Spec().End!.Value)[0];

        var url = source.Url(chunk.Bounds, 1001).ToString();

        url.ShouldBe("http://noaa.test/cdo-web/api/v2/data?datasetid=PRECIP_15&stationid=COOP%3A010008&stationid=COOP%3A010063&datatypeid=QPCP&units=standard"
            + "&startdate=2010-01-01T00:00:00&enddate=2010-01-31T23:59:59&limit=1000&offset=1001&includemetadata=true");
    }

    [Fact]
    public void Plan_WindowsOnTheMonthGridFromStart_KeysDeterministic()
    {
        var source = Source(new Answer(HttpStatusCode.OK, "application/json", "{}"));

        var chunks = source.Plan(Spec().Start, Spec().End!.Value);

        chunks.Select(c => c.Key).ShouldBe(["010008-010063_20100101T000000Z_20100201T000000Z", "010008-010063_20100201T000000Z_20100301T000000Z"]);
        chunks.ShouldAllBe(c => c.Stream == "precip_15");
    }

    private static async Task<ChunkData> FetchAllAsync(NoaaSource source, Chunk chunk)
    {
        var unit = new WorkUnit(chunk.Key, chunk.Stream, "noaa-cdo", "noaa-cdo", chunk.Bounds, UnitIdentity.Of(("test", "1")));
        var pages = new List<FetchedPage>();
        await foreach (var page in source.FetchAsync(unit, new NoProgress(), TestContext.Current.CancellationToken)) pages.Add(page);
        return new ChunkData(chunk.Key, chunk.Stream, chunk.From, pages);
    }

    private sealed class NoProgress : IUnitContext
    {
        public ChunkState? Previous => null;
        public Task RecordSplitAsync(string split, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
