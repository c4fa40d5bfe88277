using System.Text;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Sources;
using Ingot.Sources.Rest;
using Ingot.State;
using static Ingot.Tests.Core.Sources.Rest.RestTestKit;

namespace Ingot.Tests.Core.Sources.Rest;

public sealed class RestSourceTests
{
    private static string Yaml(string stream) =>
        $"  base_url: https://api.test\n  streams:\n    - name: payments\n      path: /v1/payments\n      primary_key: [id]\n{stream}";

    private const string Incremental = "      incremental: {cursor: updated_at, param: since}\n";

    private static ScriptedHandler Serve(string body) => new((_, _) => Reply(body));

    [Fact]
    public async Task Plan_FirstRun_IsAFullLoadWithoutLowerBound()
    {
        var source = Source(Spec(Yaml(Incremental)), Serve("[]"));

        var plan = await source.PlanAsync(Request(), Ct);

        var unit = plan.Units.Single();
        unit.Key.ShouldBe("payments_full_20240201T120000Z");
        unit.LoadType.ShouldBe(LoadType.Full);
        unit.Bounds.ShouldBe(new CursorBounds(null, "2024-02-01T12:00:00Z"));
        plan.Streams.Single().ShouldBe(new StreamPlan("payments", "rest", LoadType.Full, null));
    }

    [Fact]
    public async Task Plan_WithCheckpoint_IsIncrementalFromCheckpointMinusLookback()
    {
        var source = Source(Spec(Yaml(Incremental + "      lookback: 10m\n")), Serve("[]"));

        var plan = await source.PlanAsync(Request(Mark("payments", "2024-01-31T10:30:00Z")), Ct);

        var unit = plan.Units.Single();
        unit.Key.ShouldBe("payments_20240131T102000Z_20240201T120000Z");
        unit.LoadType.ShouldBe(LoadType.Incremental);
        plan.Streams.Single().LowerBound.ShouldBe("2024-01-31T10:20:00Z");
    }

    [Fact]
    public async Task Plan_FullRefresh_IgnoresTheCheckpoint()
    {
        var handler = Serve("[]");
        var source = Source(Spec(Yaml(Incremental)), handler);

        var unit = await PlanAsync(source, Request(Mark("payments", "2024-01-31T10:30:00Z"), fullRefresh: true));
        await FetchAsync(source, unit);

        unit.LoadType.ShouldBe(LoadType.Full);
        unit.Key.ShouldStartWith("payments_full_");
        ScriptedHandler.Query(handler.Gets.Single().Url, "since").ShouldBeNull();
    }

    private static ChunkState Known(WorkUnit unit, ChunkStatus status, string? identity = null) =>
        new("rest-test", unit.Key, unit.Stream, status, 1, null, null, 0, null, Now, [], null) { Identity = identity ?? unit.Identity.Text, Bounds = unit.Bounds.ToJson() };

    [Theory]
    [InlineData(ChunkStatus.Pending)]
    [InlineData(ChunkStatus.Failed)]
    public async Task Plan_UnfinishedUnitWithTheSameLowerBound_IsPlannedAgainUnderItsKey(ChunkStatus status)
    {
        // Given a run that crashed (pending) or failed an hour ago from the same checkpoint
        var source = Source(Spec(Yaml(Incremental)), Serve("[]"));
        var mark = Mark("payments", "2024-01-31T10:30:00Z");
        var earlier = await PlanAsync(source, Request(mark, now: Now.AddHours(-1)));

        // When the next run plans
        var unit = await PlanAsync(source, Request(mark, known: new Dictionary<string, ChunkState> { [earlier.Key] = Known(earlier, status) }));

        // Then it asks the same unit again: same key, same bounds
        unit.Key.ShouldBe(earlier.Key);
        unit.Bounds.ShouldBe(earlier.Bounds);
    }

    [Fact]
    public async Task Plan_DoneUnitWithTheSameLowerBound_GetsANewKeyFromTheNewUpperBound()
    {
        // Given an earlier run from the same checkpoint that landed nothing (done, checkpoint unchanged)
        var source = Source(Spec(Yaml(Incremental)), Serve("[]"));
        var mark = Mark("payments", "2024-01-31T10:30:00Z");
        var earlier = await PlanAsync(source, Request(mark, now: Now.AddHours(-1)));

        var unit = await PlanAsync(source, Request(mark, known: new Dictionary<string, ChunkState> { [earlier.Key] = Known(earlier, ChunkStatus.Done) }));

        // Then the new run is not blocked by it
        unit.Key.ShouldBe("payments_20240131T103000Z_20240201T120000Z");
        unit.Key.ShouldNotBe(earlier.Key);
    }

    [Fact]
    public async Task Plan_UnfinishedUnitOfAnotherConfiguration_IsNotReused()
    {
        var source = Source(Spec(Yaml(Incremental)), Serve("[]"));
        var mark = Mark("payments", "2024-01-31T10:30:00Z");
        var earlier = await PlanAsync(source, Request(mark, now: Now.AddHours(-1)));

        var unit = await PlanAsync(source, Request(mark, known: new Dictionary<string, ChunkState> { [earlier.Key] = Known(earlier, ChunkStatus.Pending, """{"path":"/v0/old"}""") }));

        unit.Key.ShouldNotBe(earlier.Key);
    }

    [Theory]
    [InlineData("iso8601", "2024-01-31T10:29:00Z")]
    [InlineData("epoch_s", "1706696940")]
    [InlineData("epoch_ms", "1706696940250")]
    public async Task Fetch_SinceFormats_SendCheckpointMinusLookback(string format, string expected)
    {
        var handler = Serve("[]");
        var source = Source(Spec(Yaml($"      incremental: {{cursor: updated_at, param: since, format: {format}}}\n      lookback: 1m\n")), handler);

        await RunAsync(source, Request(Mark("payments", "2024-01-31T10:30:00.25Z")));

        ScriptedHandler.Query(handler.Gets.Single().Url, "since").ShouldBe(expected);
    }

    [Fact]
    public async Task Fetch_ParamsAndSince_AreAllOnTheRequest()
    {
        var handler = Serve("[]");
        var source = Source(Spec(Yaml(Incremental + "      params: {status: all, expand: customer}\n")), handler);

        await RunAsync(source, Request(Mark("payments", "2024-01-31T10:30:00Z")));

        handler.Gets.Single().Url.Query.ShouldBe("?status=all&expand=customer&since=2024-01-31T10%3A30%3A00Z");
    }

    [Fact]
    public async Task Fetch_ApiIgnoresSince_OlderRecordsAreFilteredClientSide()
    {
        // Given an API that serves everything, whatever since says, in several timestamp forms
        var body = """
            [{"id":1,"updated_at":"2024-01-31T09:00:00Z"},
             {"id":2,"updated_at":"2024-01-31T11:29:59+01:00"},
             {"id":3,"updated_at":"2024-01-31T10:30:00Z"},
             {"id":4,"updated_at":1706700000},
             {"id":5,"updated_at":"2024-02-01T12:00:01Z"}]
            """;
        var source = Source(Spec(Yaml(Incremental)), Serve(body));

        // When the run goes from 10:30:00
        var pages = await RunAsync(source, Request(Mark("payments", "2024-01-31T10:30:00Z")));

        // Then only records at or after the lower bound and not after the run's upper bound land
        Field(pages, "id").ShouldBe(["3", "4"]);
        pages.Single().Cursor.ShouldBe("2024-01-31T11:20:00Z");
    }

    [Fact]
    public async Task Fetch_LookbackReRead_LandsOnlyNewVersions()
    {
        // Given a first run that landed three versions
        var first = """[{"id":1,"updated_at":"2024-01-31T10:00:00Z"},{"id":2,"updated_at":"2024-01-31T10:05:00Z"},{"id":3,"updated_at":"2024-01-31T10:05:00Z"}]""";
        var handler = new ScriptedHandler((_, _) => Reply(first));
        var source = Source(Spec(Yaml(Incremental + "      lookback: 10m\n")), handler);
        var run1 = await RunAsync(source);
        var last = run1[^1];
        last.Cursor.ShouldBe("2024-01-31T10:05:00Z");

        // When the API serves them again (inside the look-back) with one new version of id 2 and a new id 4
        first = """[{"id":1,"updated_at":"2024-01-31T10:00:00Z"},{"id":3,"updated_at":"2024-01-31T10:05:00Z"},{"id":2,"updated_at":"2024-01-31T10:06:00Z"},{"id":4,"updated_at":"2024-01-31T10:06:00Z"}]""";
        var run2 = await RunAsync(source, Request(Mark("payments", last.Cursor!, last.CursorMemo)));

        // Then only the new versions land, and the checkpoint moves to the newest
        Field(run2, "id").ShouldBe(["2", "4"]);
        run2[^1].Cursor.ShouldBe("2024-01-31T10:06:00Z");
        ScriptedHandler.Query(handler.Gets.Last().Url, "since").ShouldBe("2024-01-31T09:55:00Z");

        // And a third re-read of the same window lands nothing and leaves the checkpoint where it is
        var run3 = await RunAsync(source, Request(Mark("payments", run2[^1].Cursor!, run2[^1].CursorMemo)));
        run3.SelectMany(p => p.Records).ShouldBeEmpty();
        run3[^1].Cursor.ShouldBeNull();
    }

    [Fact]
    public async Task Fetch_WithoutLookback_TheBoundaryIsReadAgainAndNotLandedTwice()
    {
        var body = """[{"id":1,"updated_at":"2024-01-31T10:00:00Z"}]""";
        var handler = new ScriptedHandler((_, _) => Reply(body));
        var source = Source(Spec(Yaml(Incremental)), handler);
        var run1 = await RunAsync(source);

        // A second record at the same cursor value shows up after the first run
        body = """[{"id":1,"updated_at":"2024-01-31T10:00:00Z"},{"id":7,"updated_at":"2024-01-31T10:00:00Z"}]""";
        var run2 = await RunAsync(source, Request(Mark("payments", run1[^1].Cursor!, run1[^1].CursorMemo)));

        Field(run2, "id").ShouldBe(["7"]);
    }

    [Fact]
    public async Task Fetch_SameVersionOnTwoPages_LandsOnce()
    {
        // Given offset pages that shift (a record inserted before the offset while paging)
        var handler = new ScriptedHandler((r, _) => Reply(ScriptedHandler.Query(r.RequestUri!, "offset") == "0"
            ? """[{"id":1,"updated_at":"2024-01-31T10:00:00Z"},{"id":2,"updated_at":"2024-01-31T10:01:00Z"}]"""
            : """[{"id":2,"updated_at":"2024-01-31T10:01:00Z"}]"""));
        var source = Source(Spec(Yaml(Incremental + "      paginate: {type: offset, limit: 2}\n")), handler);

        var pages = await RunAsync(source);

        Field(pages, "id").ShouldBe(["1", "2"]);
    }

    [Fact]
    public async Task Fetch_MemoKeepsOnlyTheLookbackWindow()
    {
        var body = """[{"id":1,"updated_at":"2024-01-31T09:00:00Z"},{"id":2,"updated_at":"2024-01-31T09:58:00Z"},{"id":3,"updated_at":"2024-01-31T10:00:00Z"}]""";
        var source = Source(Spec(Yaml(Incremental + "      lookback: 5m\n")), Serve(body));

        var pages = await RunAsync(source);

        var memo = LookbackMemo.Parse(pages[^1].CursorMemo);
        memo.Count.ShouldBe(2);
        memo.Contains(DateTimeOffset.Parse("2024-01-31T09:58:00Z", System.Globalization.CultureInfo.InvariantCulture), "2\u001f").ShouldBeTrue();
    }

    [Fact]
    public async Task Fetch_CheckpointNeverMovesBack()
    {
        // A re-read inside the look-back that finds only one new version older than the checkpoint
        var source = Source(Spec(Yaml(Incremental + "      lookback: 1h\n")), Serve("""[{"id":9,"updated_at":"2024-01-31T10:10:00Z"}]"""));

        var pages = await RunAsync(source, Request(Mark("payments", "2024-01-31T10:30:00Z")));

        Field(pages, "id").ShouldBe(["9"]);
        pages[^1].Cursor.ShouldBe("2024-01-31T10:30:00Z");
    }

    [Fact]
    public async Task Fetch_CursorAndMemoOnlyOnTheLastPage()
    {
        var handler = new ScriptedHandler((r, _) => Reply(ScriptedHandler.Query(r.RequestUri!, "page") == "1"
            ? """[{"id":1,"updated_at":"2024-01-31T10:00:00Z"}]"""
            : "[]"));
        var source = Source(Spec(Yaml(Incremental + "      paginate: {type: page, size: 1}\n")), handler);

        var pages = await RunAsync(source);

        pages.Count.ShouldBe(2);
        pages[0].Cursor.ShouldBeNull();
        pages[1].Cursor.ShouldBe("2024-01-31T10:00:00Z");
        pages[1].CursorMemo.ShouldNotBeNull();
    }

    [Fact]
    public async Task Fetch_Page_KeepsTheBodyByteForByteAndRecordsAsItsText()
    {
        const string body = "{ \"data\" : [ {\"id\":1, \"amount\": 12.50 ,\"updated_at\":\"2024-01-31T10:00:00+02:00\"} ] }";
        var source = Source(Spec(Yaml(Incremental + "      records: data\n      event_time: updated_at\n")), Serve(body));

        var page = (await RunAsync(source)).Single();

        Encoding.UTF8.GetString(page.Body.Span).ShouldBe(body);
        page.Records.Single().TryGetUtf8(out var text).ShouldBeTrue();
        Encoding.UTF8.GetString(text.Span).ShouldBe("{\"id\":1, \"amount\": 12.50 ,\"updated_at\":\"2024-01-31T10:00:00+02:00\"}");
        page.Records.Single().EventTs.ShouldBe(new DateTimeOffset(2024, 1, 31, 8, 0, 0, TimeSpan.Zero));
        page.Cursor.ShouldBe("2024-01-31T08:00:00Z");
    }

    [Theory]
    [InlineData("      records: data\n", """{"items":[]}""", "records path 'data' is missing")]
    [InlineData("      records: meta.data\n", """{"meta":{"data":{"id":1}}}""", "records path 'meta.data' is a JSON object, not a list")]
    [InlineData("", """{"data":[]}""", "the body is a JSON object, not a list of records (set records: to the path of the list)")]
    [InlineData("      records: data\n", """{"data":[{"id":1,"updated_at":"2024-01-31T10:00:00Z"},7]}""", "record 1 is a JSON number, not an object")]
    [InlineData("      records: data\n", """{"data":[{"id":1}]}""", "record 0 has no cursor field 'updated_at'")]
    [InlineData("      records: data\n", """{"data":[{"id":1,"updated_at":"yesterday"}]}""", "record 0: cursor field 'updated_at' holds \"yesterday\", which is not a time")]
    [InlineData("      records: data\n", """{"data":[{"updated_at":"2024-01-31T10:00:00Z"}]}""", "record 0 has no primary key field 'id'")]
    public async Task Fetch_PageNotShapedAsConfigured_FailsTheUnitWithPathAndPage(string records, string body, string problem)
    {
        // Given a page that is JSON but not the configured shape
        var handler = Serve(body);
        var source = Source(Spec(Yaml(Incremental + records)), handler, retries: 3);

        // When
        var failure = await Should.ThrowAsync<InvalidDataException>(() => RunAsync(source));

        // Then the unit fails at once, naming the page and what is wrong
        failure.Message.ShouldBe($"stream payments, page 1 (GET https://api.test/v1/payments): {problem}");
        handler.Gets.Count().ShouldBe(1);
    }

    [Fact]
    public async Task Fetch_NotJson_IsRetriedAndNeverData()
    {
        var handler = new ScriptedHandler((_, _) => new HttpResponseMessage(System.Net.HttpStatusCode.OK)
        {
            Content = new StringContent("<html><title>Maintenance</title></html>", Encoding.UTF8, "text/html"),
        });
        var source = Source(Spec(Yaml(Incremental)), handler, retries: 2);

        var failure = await Should.ThrowAsync<HttpFailure>(() => RunAsync(source));

        failure.Kind.ShouldBe(FailureKind.Transient);
        failure.Message.ShouldContain("not JSON: content type text/html");
        handler.Gets.Count().ShouldBe(3);
    }

    [Fact]
    public async Task Fetch_UnitNotPlannedHere_IsRefused()
    {
        var source = Source(Spec(Yaml(Incremental)), Serve("[]"));
        var other = new WorkUnit("payments_x", "payments", "rest", "rest", new CursorBounds(null, null), UnitIdentity.Of(("a", "b")));

        await Should.ThrowAsync<InvalidOperationException>(() => FetchAsync(source, other));
    }

    [Fact]
    public async Task Fetch_StreamWithoutIncremental_LandsEverythingAndCarriesNoCursor()
    {
        var source = Source(Spec("  base_url: https://api.test\n  streams:\n    - {name: countries, path: /v1/countries}\n"), Serve("""[{"code":"NL"},{"code":"BE"}]"""));

        var unit = await PlanAsync(source, Request(Mark("countries", "2024-01-01T00:00:00Z")));
        var pages = await FetchAsync(source, unit);

        unit.LoadType.ShouldBe(LoadType.Full);
        Field(pages, "code").ShouldBe(["NL", "BE"]);
        pages.Single().Cursor.ShouldBeNull();
    }
}
