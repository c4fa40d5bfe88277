using System.Net;
using Ingot.Sources.Rest;
using static Ingot.Tests.Core.Sources.Rest.RestTestKit;

namespace Ingot.Tests.Core.Sources.Rest;

/// <summary>Every paginator of DESIGN §4.1 with its stop conditions, through the source against a scripted API.</summary>
public sealed class PagerTests
{
    private static RestSource Source(string paginate, ScriptedHandler handler, string records = "") =>
        RestTestKit.Source(Spec($"  base_url: https://api.test/base\n  streams:\n    - name: items\n      path: /v1/items\n{records}      paginate: {paginate}\n"), handler);

    private static string Items(int from, int count) => "[" + string.Join(',', Enumerable.Range(from, count).Select(i => $$"""{"id":{{i}}}""")) + "]";

    private static List<string?> Param(ScriptedHandler h, string name) => [.. h.Gets.Select(g => ScriptedHandler.Query(g.Url, name))];

    [Fact]
    public async Task None_OneRequest()
    {
        var handler = new ScriptedHandler((_, _) => Reply(Items(1, 3)));

        var pages = await RunAsync(Source("{type: none}", handler));

        pages.Count.ShouldBe(1);
        handler.Gets.Single().Url.ShouldBe(new Uri("https://api.test/base/v1/items"));
        pages[0].Key.ShouldEndWith("_p00001");
    }

    [Fact]
    public async Task Offset_ShortPage_StopsAfterIt()
    {
        // Given 5 records served 2 at a time
        var handler = new ScriptedHandler((r, _) =>
        {
            var offset = int.Parse(ScriptedHandler.Query(r.RequestUri!, "offset")!);
            return Reply(Items(offset, Math.Max(0, Math.Min(2, 5 - offset))));
        });

        var pages = await RunAsync(Source("{type: offset, limit: 2}", handler));

        Param(handler, "offset").ShouldBe(["0", "2", "4"]);
        Param(handler, "limit").ShouldBe(["2", "2", "2"]);
        Field(pages, "id").ShouldBe(["0", "1", "2", "3", "4"]);
    }

    [Fact]
    public async Task Offset_ExactMultiple_StopsAtTheEmptyPage()
    {
        var handler = new ScriptedHandler((r, _) =>
        {
            var offset = int.Parse(ScriptedHandler.Query(r.RequestUri!, "skip")!);
            return Reply(offset < 4 ? Items(offset, 2) : "[]");
        });

        var pages = await RunAsync(Source("{type: offset, param: skip, limit_param: take, limit: 2, start: 0}", handler));

        Param(handler, "skip").ShouldBe(["0", "2", "4"]);
        Param(handler, "take").ShouldBe(["2", "2", "2"]);
        pages.Count.ShouldBe(3); // the empty page is archived too
        pages[^1].Records.ShouldBeEmpty();
    }

    [Fact]
    public async Task Offset_TotalFrom_StopsAtTheTotalWithoutAnEmptyPage()
    {
        var handler = new ScriptedHandler((r, _) =>
        {
            var offset = int.Parse(ScriptedHandler.Query(r.RequestUri!, "offset")!);
            return Reply("{\"items\":" + Items(offset, 2) + ",\"meta\":{\"total\":4}}");
        });

        var pages = await RunAsync(Source("{type: offset, limit: 2, total_from: meta.total}", handler, "      records: items\n"));

        Param(handler, "offset").ShouldBe(["0", "2"]);
        pages.SelectMany(p => p.Records).Count().ShouldBe(4);
    }

    [Fact]
    public async Task Offset_TotalFromMissing_FailsNamingThePath()
    {
        var handler = new ScriptedHandler((_, _) => Reply("""{"items":[{"id":1}]}"""));

        var failure = await Should.ThrowAsync<InvalidDataException>(() => RunAsync(Source("{type: offset, limit: 1, total_from: meta.total}", handler, "      records: items\n")));

        failure.Message.ShouldBe("stream items, page 1 (GET https://api.test/base/v1/items?offset=0&limit=1): paginate.total_from 'meta.total' is missing or not a whole number");
    }

    [Fact]
    public async Task Offset_ApiIgnoresTheOffset_FailsInsteadOfLoopingForever()
    {
        var handler = new ScriptedHandler((_, _) => Reply(Items(1, 2)));

        var failure = await Should.ThrowAsync<InvalidDataException>(() => RunAsync(Source("{type: offset, limit: 2}", handler)));

        failure.Message.ShouldContain("page 2 (GET https://api.test/base/v1/items?offset=2&limit=2) is the same as page 1");
        handler.Gets.Count().ShouldBe(2);
    }

    [Fact]
    public async Task Page_ShortPage_StopsAfterIt()
    {
        var handler = new ScriptedHandler((r, _) =>
        {
            var page = int.Parse(ScriptedHandler.Query(r.RequestUri!, "page")!);
            return Reply(page < 3 ? Items(page * 10, 3) : Items(page * 10, 1));
        });

        var pages = await RunAsync(Source("{type: page, size: 3}", handler));

        Param(handler, "page").ShouldBe(["1", "2", "3"]);
        Param(handler, "per_page").ShouldBe(["3", "3", "3"]);
        pages.SelectMany(p => p.Records).Count().ShouldBe(7);
    }

    [Fact]
    public async Task Page_EmptyPage_Stops()
    {
        var handler = new ScriptedHandler((r, _) => Reply(ScriptedHandler.Query(r.RequestUri!, "p") == "0" ? Items(1, 2) : "[]"));

        await RunAsync(Source("{type: page, param: p, start: 0, size_param: n, size: 2}", handler));

        Param(handler, "p").ShouldBe(["0", "1"]);
        Param(handler, "n").ShouldBe(["2", "2"]);
    }

    [Fact]
    public async Task Page_TotalFrom_StopsWhenTheTotalIsRead()
    {
        var handler = new ScriptedHandler((r, _) => Reply($$"""{"data":{{Items(int.Parse(ScriptedHandler.Query(r.RequestUri!, "page")!) * 10, 2)}},"total":4}"""));

        await RunAsync(Source("{type: page, size: 2, total_from: total}", handler, "      records: data\n"));

        Param(handler, "page").ShouldBe(["1", "2"]);
    }

    [Theory]
    [InlineData("""{"data":[{"id":3}],"meta":{}}""")]
    [InlineData("""{"data":[{"id":3}],"meta":{"next_cursor":null}}""")]
    [InlineData("""{"data":[{"id":3}],"meta":{"next_cursor":""}}""")]
    public async Task Cursor_AbsentNullOrEmptyNext_Stops(string last)
    {
        // Given cursor pages a → b → the last, whose next cursor is absent, null or empty
        var handler = new ScriptedHandler((r, _) => ScriptedHandler.Query(r.RequestUri!, "cursor") switch
        {
            null => Reply("""{"data":[{"id":1}],"meta":{"next_cursor":"a"}}"""),
            "a" => Reply("""{"data":[{"id":2}],"meta":{"next_cursor":"b"}}"""),
            _ => Reply(last),
        });

        var pages = await RunAsync(Source("{type: cursor, from: meta.next_cursor, param: cursor}", handler, "      records: data\n"));

        Param(handler, "cursor").ShouldBe([null, "a", "b"]);
        Field(pages, "id").ShouldBe(["1", "2", "3"]);
    }

    [Fact]
    public async Task Cursor_NumericCursor_IsSentAsItsText()
    {
        var handler = new ScriptedHandler((r, _) => Reply(ScriptedHandler.Query(r.RequestUri!, "after") is null ? """{"d":[{"id":1}],"next":1700}""" : """{"d":[],"next":null}"""));

        await RunAsync(Source("{type: cursor, from: next, param: after}", handler, "      records: d\n"));

        Param(handler, "after").ShouldBe([null, "1700"]);
    }

    [Fact]
    public async Task Cursor_SameCursorTwice_FailsInsteadOfLooping()
    {
        var handler = new ScriptedHandler((r, _) => Reply("{\"data\":[{\"id\":" + r.RequestUri!.Query.Length + "}],\"meta\":{\"next_cursor\":\"again\"}}"));

        var failure = await Should.ThrowAsync<InvalidDataException>(() => RunAsync(Source("{type: cursor, from: meta.next_cursor}", handler, "      records: data\n")));

        failure.Message.ShouldContain("the next cursor 'again' (meta.next_cursor) a second time");
    }

    [Fact]
    public async Task LinkHeader_RelNext_IsFollowedUntilThereIsNone()
    {
        // Given RFC 8288 links: absolute, then relative with several rels, then only rel="prev"
        var handler = new ScriptedHandler((r, _) =>
        {
            var page = ScriptedHandler.Query(r.RequestUri!, "page");
            var response = Reply(Items(int.Parse(page ?? "1"), 1));
            var link = page switch
            {
                null => "<https://api.test/base/v1/items?page=2>; rel=\"next\", <https://api.test/base/v1/items?page=9>; rel=\"last\"",
                "2" => "</base/v1/items?page=3>; rel=\"next last\"",
                _ => "<https://api.test/base/v1/items?page=2>; rel=\"prev\"",
            };
            response.Headers.TryAddWithoutValidation("Link", link);
            return response;
        });

        var pages = await RunAsync(Source("{type: link_header}", handler));

        handler.Gets.Select(g => g.Url.PathAndQuery).ShouldBe(["/base/v1/items", "/base/v1/items?page=2", "/base/v1/items?page=3"]);
        pages.Count.ShouldBe(3);
    }

    [Fact]
    public async Task LinkHeader_NextOnAnotherHost_FailsWithoutSendingCredentialsThere()
    {
        var handler = new ScriptedHandler((r, _) =>
        {
            var response = Reply(Items(1, 1));
            response.Headers.TryAddWithoutValidation("Link", "<https://evil.test/steal?page=2>; rel=next");
            return response;
        });

        var failure = await Should.ThrowAsync<InvalidDataException>(() => RunAsync(Source("{type: link_header}", handler)));

        failure.Message.ShouldContain("leaves the API (https://api.test)");
        handler.Gets.Count().ShouldBe(1);
    }

    [Fact]
    public async Task NextUrl_BodyLink_IsFollowedUntilNull()
    {
        var handler = new ScriptedHandler((r, _) => Reply(r.RequestUri!.Query.Contains("page=2", StringComparison.Ordinal)
            ? """{"results":[{"id":2}],"links":{"next":null}}"""
            : """{"results":[{"id":1}],"links":{"next":"items?page=2"}}"""));

        var pages = await RunAsync(Source("{type: next_url, from: links.next}", handler, "      records: results\n"));

        handler.Gets.Select(g => g.Url.AbsoluteUri).ShouldBe(["https://api.test/base/v1/items", "https://api.test/base/v1/items?page=2"]);
        Field(pages, "id").ShouldBe(["1", "2"]);
    }

    [Theory]
    [InlineData("<https://a.test/?p=2>; rel=\"next\"", "https://a.test/?p=2")]
    [InlineData("<https://a.test/?p=1>; rel=\"prev\", <https://a.test/?p=3>; rel=next", "https://a.test/?p=3")]
    [InlineData("<https://a.test/?p=3>; title=\"a, b; c\"; rel=\"last next\"", "https://a.test/?p=3")]
    [InlineData("<https://a.test/?p=3>; REL=\"Next\"", "https://a.test/?p=3")]
    [InlineData("<https://a.test/?p=1>; rel=\"prev\"", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void LinkNext_Rfc8288Header_FindsRelNext(string? header, string? expected)
    {
        Pager.LinkNext(header).ShouldBe(expected);
    }
}
