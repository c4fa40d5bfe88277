using System.Net;
using System.Text;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Sources;
using Ingot.Sources.Rest;
using Ingot.State;

namespace Ingot.Tests.Core.Sources.Rest;

/// <summary>A REST source over a scripted HTTP handler: pipelines from YAML, plans from a checkpoint, pages fetched in full.</summary>
internal static class RestTestKit
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static readonly DateTimeOffset Now = new(2024, 2, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A pipeline with one REST source; <paramref name="source"/> is the source's YAML body, indented by two.</summary>
    public static RestSourceSpec Spec(string source)
    {
        var yaml = "name: rest-test\nsource:\n  type: rest\n" + source.TrimEnd() + "\ndestinations:\n  - type: raw\n    path: ./lake\n";
        return (RestSourceSpec)TestPipelines.Parse(yaml, "rest.yaml", _ => null).Source;
    }

    public static RestSource Source(RestSourceSpec spec, HttpMessageHandler handler, TimeProvider? time = null, int retries = 1) =>
        new(spec, new ResilientHttp(new HttpClient(handler), HttpSpec.Default with { Retries = retries, BackoffMin = TimeSpan.FromMilliseconds(1), BackoffMax = TimeSpan.FromMilliseconds(2) },
            TimeProvider.System, new NoHttpEvents(), null), time ?? TimeProvider.System);

    public static PlanRequest Request(Watermark? mark = null, bool fullRefresh = false, IReadOnlyDictionary<string, ChunkState>? known = null, DateTimeOffset? now = null) =>
        new(null, null, now ?? Now, fullRefresh, null,
            mark is null ? new Dictionary<string, Watermark>() : new Dictionary<string, Watermark> { [mark.Stream] = mark },
            known ?? new Dictionary<string, ChunkState>());

    public static Watermark Mark(string stream, string value, string? memo = null) => new("rest-test", stream, value, 0, Now) { Memo = memo };

    public static async Task<WorkUnit> PlanAsync(RestSource source, PlanRequest? request = null) =>
        (await source.PlanAsync(request ?? Request(), Ct)).Units.Single();

    public static async Task<List<FetchedPage>> FetchAsync(RestSource source, WorkUnit unit)
    {
        var pages = new List<FetchedPage>();
        await foreach (var p in source.FetchAsync(unit, new NoContext(), Ct)) pages.Add(p);
        return pages;
    }

    public static async Task<List<FetchedPage>> RunAsync(RestSource source, PlanRequest? request = null) => await FetchAsync(source, await PlanAsync(source, request));

    /// <summary>The landed records' field <paramref name="name"/> as text, in order.</summary>
    public static List<string> Field(IEnumerable<FetchedPage> pages, string name) =>
        [.. pages.SelectMany(p => p.Records).Select(r => r.Fields[name]!.ToString())];

    public static HttpResponseMessage Reply(string body, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private sealed class NoHttpEvents : IHttpObserver
    {
        public void OnAttempt(string chunkKey, int attempt) { }
        public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
        public void OnCircuitOpen(TimeSpan pause, string reason) { }
    }

    private sealed class NoContext : IUnitContext
    {
        public ChunkState? Previous => null;
        public Task RecordSplitAsync(string split, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>Answers each request with the script's response and records what was asked (method, URL, headers, form body).</summary>
internal sealed class ScriptedHandler(Func<HttpRequestMessage, string, HttpResponseMessage> answer) : HttpMessageHandler
{
    public sealed record Seen(HttpMethod Method, Uri Url, IReadOnlyDictionary<string, string> Headers, string Body);

    private readonly List<Seen> _seen = [];

    public IReadOnlyList<Seen> Requests { get { lock (_seen) return [.. _seen]; } }

    public IEnumerable<Seen> Gets => Requests.Where(r => r.Method == HttpMethod.Get);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
        lock (_seen) _seen.Add(new Seen(request.Method, request.RequestUri!, headers, body));
        return answer(request, body);
    }

    /// <summary>A query parameter of a request URL (unescaped), or null.</summary>
    public static string? Query(Uri url, string name) =>
        url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2))
            .Where(p => Uri.UnescapeDataString(p[0]) == name).Select(p => Uri.UnescapeDataString(p.Length > 1 ? p[1] : "")).FirstOrDefault();
}
