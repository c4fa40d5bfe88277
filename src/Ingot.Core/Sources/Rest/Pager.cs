using System.Globalization;
using Ingot.Http;

namespace Ingot.Sources.Rest;

/// <summary>
/// Walks a stream's pages (DESIGN §4.1 <c>paginate</c>): the first request, then the next one from the page just read,
/// or null when the paging says the stream is done. Offset and page paging stop at an empty page, a page shorter than
/// the limit, or the total; cursor and URL paging when the next value is absent, null or empty. Every walk ends: a next
/// cursor or URL seen before, or a full page identical to the previous one, is an error instead of a loop.
/// </summary>
internal abstract class Pager
{
    /// <summary>The body path of the next cursor or URL, for the page parser.</summary>
    public virtual string? NextFrom => null;

    public virtual string? TotalFrom => null;

    public abstract Uri First(Uri request);

    /// <param name="request">The stream's request without paging parameters (path, params, since).</param>
    /// <param name="current">The URL the page came from.</param>
    public abstract Uri? Next(Uri request, Uri current, RestPage page, HttpReply reply);

    public static Pager For(PaginateSpec spec, Uri origin) => spec switch
    {
        PaginateSpec.Offset o => new OffsetPager(o),
        PaginateSpec.Page p => new PagePager(p),
        PaginateSpec.Cursor c => new CursorPager(c),
        PaginateSpec.LinkHeader => new UrlPager(null, origin),
        PaginateSpec.NextUrl n => new UrlPager(n.From, origin),
        _ => new SinglePager(),
    };

    protected static Uri With(Uri url, params (string Name, string Value)[] parameters)
    {
        foreach (var (n, v) in parameters) url = RestAuth.WithQuery(url, n, v);
        return url;
    }

    private sealed class SinglePager : Pager
    {
        public override Uri First(Uri request) => request;

        public override Uri? Next(Uri request, Uri current, RestPage page, HttpReply reply) => null;
    }

    private sealed class OffsetPager(PaginateSpec.Offset spec) : Pager
    {
        private long _offset = spec.Start;

        public override string? TotalFrom => spec.TotalFrom;

        public override Uri First(Uri request) => At(request);

        private Uri At(Uri request) =>
            With(request, (spec.Param, _offset.ToString(CultureInfo.InvariantCulture)), (spec.LimitParam, spec.Limit.ToString(CultureInfo.InvariantCulture)));

        public override Uri? Next(Uri request, Uri current, RestPage page, HttpReply reply)
        {
            if (page.Served == 0 || page.Served < spec.Limit) return null;
            _offset += spec.Limit;
            if (page.Total is { } total && _offset - spec.Start >= total) return null;
            return At(request);
        }
    }

    private sealed class PagePager(PaginateSpec.Page spec) : Pager
    {
        private long _page = spec.Start;
        private long _read;

        public override string? TotalFrom => spec.TotalFrom;

        public override Uri First(Uri request) => At(request);

        private Uri At(Uri request) =>
            With(request, (spec.Param, _page.ToString(CultureInfo.InvariantCulture)), (spec.SizeParam, spec.Size.ToString(CultureInfo.InvariantCulture)));

        public override Uri? Next(Uri request, Uri current, RestPage page, HttpReply reply)
        {
            _read += page.Served;
            if (page.Served == 0 || page.Served < spec.Size) return null;
            if (page.Total is { } total && _read >= total) return null;
            _page++;
            return At(request);
        }
    }

    private sealed class CursorPager(PaginateSpec.Cursor spec) : Pager
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public override string? NextFrom => spec.From;

        public override Uri First(Uri request) => request;

        public override Uri? Next(Uri request, Uri current, RestPage page, HttpReply reply)
        {
            if (page.NextToken is not { } token) return null;
            if (!_seen.Add(token)) throw new InvalidDataException($"the API returned the next cursor '{token}' ({spec.From}) a second time: paging would never end");
            return With(request, (spec.Param, token));
        }
    }

    /// <summary>
    /// <c>link_header</c> (<paramref name="from"/> null) and <c>next_url</c>: the next URL as the API gives it, resolved
    /// against the current one. It must stay on the API's own scheme, host and port — the credentials go with it.
    /// </summary>
    private sealed class UrlPager(string? from, Uri origin) : Pager
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public override string? NextFrom => from;

        public override Uri First(Uri request) => request;

        public override Uri? Next(Uri request, Uri current, RestPage page, HttpReply reply)
        {
            var text = from is null ? LinkNext(reply.Header("Link")) : page.NextToken;
            if (string.IsNullOrWhiteSpace(text)) return null;
            if (!Uri.TryCreate(current, text.Trim(), out var next) || next.Scheme is not ("http" or "https"))
                throw new InvalidDataException($"the next page's URL '{Redact.Message(text)}' is not an http(s) URL");
            if (!string.Equals(next.Scheme, origin.Scheme, StringComparison.OrdinalIgnoreCase) || !string.Equals(next.Host, origin.Host, StringComparison.OrdinalIgnoreCase) || next.Port != origin.Port)
                throw new InvalidDataException($"the next page's URL {Redact.Url(next)} leaves the API ({origin.Scheme}://{origin.Authority}); its credentials are not sent elsewhere");
            if (!_seen.Add(next.AbsoluteUri)) throw new InvalidDataException($"the API named the next page {Redact.Url(next)} a second time: paging would never end");
            return next;
        }
    }

    /// <summary>The target of the first link with <c>rel="next"</c> in an RFC 8288 <c>Link</c> header, or null.</summary>
    internal static string? LinkNext(string? header)
    {
        if (string.IsNullOrEmpty(header)) return null;
        var i = 0;
        while (i < header.Length)
        {
            var open = header.IndexOf('<', i);
            if (open < 0) return null;
            var close = header.IndexOf('>', open + 1);
            if (close < 0) return null;
            var target = header[(open + 1)..close];
            // Parameters run to the next comma outside a quoted string.
            var j = close + 1;
            var quoted = false;
            while (j < header.Length && (quoted || header[j] != ','))
            {
                if (header[j] == '"' && header[j - 1] != '\\') quoted = !quoted;
                j++;
            }
            foreach (var param in header[(close + 1)..j].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = param.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0 || !param[..eq].Trim().Equals("rel", StringComparison.OrdinalIgnoreCase)) continue;
                var rels = param[(eq + 1)..].Trim().Trim('"').Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (rels.Any(r => r.Equals("next", StringComparison.OrdinalIgnoreCase))) return target;
            }
            i = j + 1;
        }
        return null;
    }
}
