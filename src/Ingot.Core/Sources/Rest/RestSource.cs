using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Records;
using Ingot.State;

namespace Ingot.Sources.Rest;

/// <summary>
/// The declarative REST source (<c>type: rest</c>). Pages are not known ahead, so each stream is one unit per run:
/// <c>CursorBounds(After = lower bound, UpTo = the run's upper bound)</c>, keyed by stream and both bounds. The first
/// run (and <c>--full-refresh</c>) has no lower bound and loads <c>full</c>; later runs load <c>incremental</c> from
/// <c>checkpoint − lookback</c>. Records after the upper bound wait for the next run, so a unit's content is fixed by
/// its key: a crashed or failed unit is planned again under the same key (from <see cref="PlanRequest.Known"/>) and
/// replaces itself; a run that landed nothing leaves a done unit that the next run's new upper bound does not collide with.
/// Records older than the lower bound (an API that ignores <c>since</c>) and versions landed before inside the look-back
/// (<see cref="LookbackMemo"/>) are not landed; the last page carries the new checkpoint (the largest cursor landed) and memo.
/// </summary>
public sealed class RestSource : ISource
{
    private readonly RestSourceSpec _spec;
    private readonly ResilientHttp _http;
    private readonly TimeProvider _time;
    private readonly RestAuth _auth;
    private readonly Uri _origin;
    private readonly string? _userInfoBasic;
    private readonly ConcurrentDictionary<string, PlannedUnit> _planned = new(StringComparer.Ordinal);

    public RestSource(RestSourceSpec spec, ResilientHttp http, TimeProvider time)
    {
        _spec = spec;
        _http = http;
        _time = time;
        _auth = new RestAuth(spec.Auth, http, time);
        if (!Uri.TryCreate(spec.BaseUrl, UriKind.Absolute, out var baseUri))
            throw new Config.ConfigException($"source {spec.Name}: base_url '{spec.BaseUrl}' is not an http(s) URL ('simulator' starts the shop simulator only under ingot run)");
        // user:password in base_url is HTTP Basic (when no auth: is given); it never stays in a URL that is sent or written.
        if (!string.IsNullOrEmpty(baseUri.UserInfo))
        {
            if (spec.Auth is RestAuthSpec.None)
            {
                _userInfoBasic = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Uri.UnescapeDataString(baseUri.UserInfo)));
                Redact.Register(_userInfoBasic);
            }
            baseUri = new Uri($"{baseUri.Scheme}://{baseUri.Authority}{baseUri.PathAndQuery}");
        }
        _origin = baseUri;
    }

    public string Name => _spec.Name;

    public string SourceSystem => "rest";

    public IReadOnlyList<string> Streams => _spec.Streams;

    /// <summary>What a lower bound, checkpoint and memo mean for one planned unit, kept from planning to fetching.</summary>
    private sealed record PlannedUnit(RestStreamSpec Stream, DateTimeOffset? Lower, DateTimeOffset UpTo, DateTimeOffset? Checkpoint, LookbackMemo Memo);

    /// <summary>What decides the records of a stream's unit beside its bounds (not auth, headers or paging: they do not change the records).</summary>
    internal static UnitIdentity Identity(RestStreamSpec s) => UnitIdentity.Of(
        ("source", "rest"), ("path", s.Path), ("params", string.Join('&', s.Params.Select(p => $"{p.Key}={p.Value}"))), ("records", s.Records ?? ""),
        ("primary_key", string.Join(',', s.PrimaryKey)), ("cursor", s.Incremental?.Cursor ?? ""), ("event_time", s.EventTime ?? ""));

    public Task<SourcePlan> PlanAsync(PlanRequest request, CancellationToken cancellationToken)
    {
        var units = new List<WorkUnit>();
        var streams = new List<StreamPlan>();
        foreach (var stream in _spec.StreamSpecs)
        {
            if (!request.Wants(stream.Name)) continue;
            var unit = PlanStream(stream, request);
            units.Add(unit);
            streams.Add(new StreamPlan(stream.Name, Name, unit.LoadType, ((CursorBounds)unit.Bounds).After));
        }
        var scope = new Dictionary<string, object> { ["base_url"] = Redact.Url(_origin), ["streams"] = units.Select(u => u.Stream).ToList() };
        return Task.FromResult(new SourcePlan(units, streams, scope));
    }

    private WorkUnit PlanStream(RestStreamSpec stream, PlanRequest request)
    {
        DateTimeOffset? lower = null, checkpoint = null;
        var memo = new LookbackMemo();
        if (stream.Incremental is not null && !request.FullRefresh && request.Checkpoints.GetValueOrDefault(stream.Name) is { } mark)
        {
            if (!CursorTime.TryParse(mark.Value, out var c))
                throw new InvalidDataException($"stream {stream.Name}: the stored checkpoint '{mark.Value}' is not a time; run with --full-refresh to load the stream anew");
            checkpoint = c;
            lower = c - stream.Lookback;
            memo = LookbackMemo.Parse(mark.Memo).From(lower.Value);
        }
        var after = lower is { } l ? CursorTime.Format(l) : null;
        var identity = Identity(stream);
        // The run's upper bound, in whole seconds; a unit of an earlier run with the same lower bound that did not finish
        // (crashed: pending; failed) is asked again under its own key and upper bound.
        var now = request.Now.ToUniversalTime();
        var upTo = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        string? key = null;
        foreach (var known in request.Known.Values)
        {
            if (known.Stream != stream.Name || known.Status == ChunkStatus.Done || known.Identity != identity.Text) continue;
            if (UnitBounds.FromJson(known.Bounds) is not CursorBounds b || b.After != after || !CursorTime.TryParse(b.UpTo, out var was)) continue;
            if (key is null || was > upTo || was == upTo && string.CompareOrdinal(known.Key, key) > 0) (key, upTo) = (known.Key, was);
        }
        key ??= KeyFor(stream.Name, lower, upTo);
        var loadType = lower is null ? LoadType.Full : LoadType.Incremental;
        _planned[key] = new PlannedUnit(stream, lower, upTo, checkpoint, memo);
        return new WorkUnit(key, stream.Name, Name, SourceSystem, new CursorBounds(after, CursorTime.Format(upTo)), identity, loadType);
    }

    /// <summary><c>payments_20240115T102500Z_20240116T020000Z</c>, or <c>payments_full_20240116T020000Z</c> without a lower bound.</summary>
    internal static string KeyFor(string stream, DateTimeOffset? lower, DateTimeOffset upTo) =>
        $"{ChunkKeys.Safe(stream)}_{(lower is { } l ? CursorTime.Stamp(l) : "full")}_{CursorTime.Stamp(upTo)}";

    public async IAsyncEnumerable<FetchedPage> FetchAsync(WorkUnit unit, IUnitContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!_planned.TryGetValue(unit.Key, out var plan))
            throw new InvalidOperationException($"unit {unit.Key} was not planned by this source (its lower bound and look-back memo are unknown)");
        var stream = plan.Stream;
        var request = RequestUrl(stream, plan.Lower);
        var pager = Pager.For(stream.Paginate, _origin);
        // A copy: the plan's memo stays as stored, whatever an attempt of this unit read.
        var memo = plan.Memo.From(DateTimeOffset.MinValue);
        DateTimeOffset? largest = null;
        var memoLimit = MemoInRunLimit;
        byte[]? previous = null;
        var url = pager.First(request);
        for (var number = 1; url is not null; number++)
        {
            var (reply, page, sent) = await GetPageAsync(url, stream, pager, unit.Key, number, cancellationToken).ConfigureAwait(false);
            var shown = $"GET {Redact.Url(sent, QuerySecrets)}";
            if (page.Problem is { } problem) throw new InvalidDataException($"stream {stream.Name}, page {number} ({shown}): {problem}");
            var records = new List<Record>(page.Records.Count);
            foreach (var r in page.Records)
            {
                if (r.Cursor is { } c)
                {
                    // Older than the lower bound (an API that ignores since), after the run's upper bound (next run), or a
                    // version landed before inside the look-back or earlier in this run: not landed.
                    if (plan.Lower is { } lower && c < lower || c > plan.UpTo) continue;
                    if (!memo.Add(c, r.Key)) continue;
                    if (largest is null || c > largest) largest = c;
                    // Memory stays bounded on a long full load: versions below the window can only repeat within this run.
                    if (memo.Count > memoLimit)
                    {
                        memo.RemoveBefore(largest.Value - stream.Lookback);
                        memoLimit = Math.Max(MemoInRunLimit, 2 * memo.Count);
                    }
                }
                records.Add(Record.FromUtf8(r.Utf8, r.EventTs));
            }
            // A full page byte-identical to the one before: the API ignores the paging parameters (memory: one page more).
            if (page.Served > 0 && previous is not null && reply.Body.AsSpan().SequenceEqual(previous))
                throw new InvalidDataException($"stream {stream.Name}, page {number} ({shown}) is the same as page {number - 1}: the API ignores the paging parameters, paging would never end");
            previous = page.Served > 0 ? reply.Body : null;
            var next = pager.Next(request, url, page, reply);
            var fetched = new FetchedPage($"{unit.Key}_p{number:D5}", reply.Body, shown, reply.Status, _time.GetUtcNow(), records);
            if (next is null && stream.Incremental is not null && largest is { } top)
            {
                // The last page: the checkpoint moves to the largest cursor landed (never back), with the versions of the new window.
                var checkpoint = plan.Checkpoint is { } before && before > top ? before : top;
                fetched = fetched with { Cursor = CursorTime.Format(checkpoint), CursorMemo = memo.From(checkpoint - stream.Lookback).ToJson() };
            }
            yield return fetched;
            url = next;
        }
    }

    /// <summary>Versions held in memory during a run before those below the look-back window are let go.</summary>
    internal const int MemoInRunLimit = 200_000;

    private IReadOnlyCollection<string> QuerySecrets => _auth.QueryParam is { } p ? [p] : [];

    /// <summary>The stream's first request without paging: base URL + path, its params, and the lower bound when the API takes one.</summary>
    internal Uri RequestUrl(RestStreamSpec stream, DateTimeOffset? lower)
    {
        var path = _origin.AbsoluteUri.TrimEnd('/') + "/" + stream.Path.TrimStart('/');
        var url = new Uri(path);
        foreach (var (k, v) in stream.Params) url = RestAuth.WithQuery(url, k, v);
        if (lower is { } l && stream.Incremental is { Param: { } since } inc) url = RestAuth.WithQuery(url, since, CursorTime.Since(l, inc.Format));
        return url;
    }

    /// <summary>One page, with the credentials on it; a fetched token the API refuses (401) is renewed once and the page asked again.</summary>
    private async Task<(HttpReply Reply, RestPage Page, Uri Sent)> GetPageAsync(Uri url, RestStreamSpec stream, Pager pager, string chunkKey, int number, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Accept"] = "application/json" };
            foreach (var (k, v) in _spec.Headers) headers[k] = v;
            if (_userInfoBasic is not null) headers["Authorization"] = $"Basic {_userInfoBasic}";
            var target = await _auth.ApplyAsync(url, headers, chunkKey, cancellationToken).ConfigureAwait(false);
            RestPage? page = null;
            try
            {
                var reply = await _http.GetAsync(target, headers, (status, body, contentType) =>
                    status is < 200 or >= 300 ? null : RestPage.TryParse(body, contentType, status, stream, pager.NextFrom, pager.TotalFrom, out page),
                    chunkKey, cancellationToken).ConfigureAwait(false);
                return (reply, page!, target);
            }
            catch (HttpFailure f) when (f.Status == 401 && _auth.Renews && attempt == 1)
            {
                // The token may have been revoked or expired early: renew exactly the refused one, then ask once more.
                await _auth.InvalidateAsync(headers.GetValueOrDefault("Authorization") ?? "", chunkKey, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpFailure f)
            {
                throw new HttpFailure(f.Kind, f.Status, $"stream {stream.Name}, page {number} (GET {Redact.Url(target, QuerySecrets)}): {f.Message}", f.RetryAfter, f);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
