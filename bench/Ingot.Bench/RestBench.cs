using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Ingot.Config;
using Ingot.Http;
using Ingot.Sources;
using Ingot.Sources.Rest;
using Ingot.State;

namespace Ingot.Bench;

/// <summary>
/// The REST source's own cost per record: cursor pages of payment-like records served from memory (no network), read by
/// <see cref="RestSource"/> with an incremental cursor, a primary key and a look-back (parse, select, cursor and event
/// time, client-side filter, version memo, the page kept byte for byte), against the anchor of the same bodies parsed with
/// <see cref="JsonDocument"/> and their records enumerated — the least any JSON source does. Repeated; median and spread.
/// </summary>
internal static class RestBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var pages = Arg(args, "--pages", 200);
        var perPage = Arg(args, "--records", 500);
        var repeat = Arg(args, "--repeat", 7);
        var bodies = Enumerable.Range(0, pages).Select(p => Page(p, perPage, p == pages - 1 ? null : $"c{p + 1}")).ToArray();
        var bytes = bodies.Sum(b => (long)b.Length);
        var spec = (RestSourceSpec)new RestConnector().Read(Section("""
            base_url: https://bench.test
            auth: {type: api_key, header: x-api-key, key: bench-key}
            streams:
              - name: payments
                path: /v1/payments
                records: data
                primary_key: [payment_id]
                paginate: {type: cursor, from: meta.next_cursor, param: cursor}
                incremental: {cursor: updated_at, param: since}
                lookback: 10m
                event_time: created_at
            """));
        var http = new ResilientHttp(new HttpClient(new Memory(bodies)), HttpSpec.Default, TimeProvider.System, new NoEvents(), null);
        var source = new RestSource(spec, http, TimeProvider.System);
        var request = new PlanRequest(null, null, new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero), false, null, new Dictionary<string, Watermark>(), new Dictionary<string, ChunkState>());

        async Task<long> Source()
        {
            var unit = (await source.PlanAsync(request, CancellationToken.None)).Units[0];
            long n = 0;
            await foreach (var page in source.FetchAsync(unit, new NoContext(), CancellationToken.None)) n += page.Records.Count;
            return n;
        }

        long Anchor()
        {
            long n = 0;
            foreach (var body in bodies)
            {
                using var doc = JsonDocument.Parse(body);
                foreach (var r in doc.RootElement.GetProperty("data").EnumerateArray()) n += r.ValueKind == JsonValueKind.Object ? 1 : 0;
            }
            return n;
        }

        await Source();
        Anchor();
        var sourceTimes = new List<double>();
        var anchorTimes = new List<double>();
        long records = 0;
        for (var i = 0; i < repeat; i++)
        {
            var clock = Stopwatch.StartNew();
            records = await Source();
            sourceTimes.Add(clock.Elapsed.TotalSeconds);
            clock.Restart();
            if (Anchor() != records) throw new InvalidOperationException("the source and the anchor disagree on the record count");
            anchorTimes.Add(clock.Elapsed.TotalSeconds);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rest source: {pages} pages x {perPage} records = {records:N0} records, {bytes / 1e6:0.0} MB, {repeat} runs"));
        Console.WriteLine(Line("RestSource.FetchAsync", sourceTimes, records));
        Console.WriteLine(Line("anchor JsonDocument.Parse", anchorTimes, records));
        var ratios = sourceTimes.Zip(anchorTimes, (s, a) => s / a).Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"source / anchor: median {Stats.Median(ratios):0.00} (min {ratios[0]:0.00}, max {ratios[^1]:0.00})"));
        return 0;
    }

    private static string Line(string name, List<double> seconds, long records)
    {
        var s = seconds.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture,
            $"{name,-28} median {Stats.Median(s) * 1000:0.0} ms (min {s[0] * 1000:0.0}, max {s[^1] * 1000:0.0}) = {records / Stats.Median(s) / 1e6:0.00} M records/s");
    }


    private static byte[] Page(int page, int perPage, string? next)
    {
        var sb = new StringBuilder("{\"data\":[");
        var t0 = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < perPage; i++)
        {
            var n = page * perPage + i;
            var at = t0.AddSeconds(n * 7).ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture);
            if (i > 0) sb.Append(',');
            sb.Append(CultureInfo.InvariantCulture, $$"""{"payment_id":"pay_{{n:D8}}","order_id":"ord_{{n % 90000:D6}}","customer":{"id":"cus_{{n % 5000:D5}}","country":"NL"},"amount":{"value":{{n % 500}}.25,"currency":"EUR"},"method":"card","status":"paid","created_at":"{{at}}","paid_at":"{{at}}","updated_at":"{{at}}","version":1}""");
        }
        sb.Append("],\"meta\":{\"next_cursor\":").Append(next is null ? "null" : $"\"{next}\"").Append("}}");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static ConfigSection Section(string yaml)
    {
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(yaml));
        return new ConfigSection(new ConfigContext("bench.yaml", _ => null), (YamlDotNet.RepresentationModel.YamlMappingNode)stream.Documents[0].RootNode, "source");
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>Serves the pages from memory by their cursor parameter.</summary>
    private sealed class Memory(byte[][] bodies) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var query = request.RequestUri!.Query;
            var at = query.IndexOf("cursor=c", StringComparison.Ordinal);
            var page = at < 0 ? 0 : int.Parse(query[(at + 8)..].Split('&')[0], CultureInfo.InvariantCulture);
            var content = new ByteArrayContent(bodies[page]);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = content });
        }
    }

    private sealed class NoEvents : IHttpObserver
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
