using Ingot.Config;

namespace Ingot.Sources.Rest;

/// <summary>
/// <c>type: rest</c> (DESIGN §4.1): a declarative HTTP JSON API — one base URL and auth, one or more streams, each a
/// path with its own parameters, record selector, paginator and incremental cursor.
/// </summary>
public sealed record RestSourceSpec(
    string BaseUrl,
    RestAuthSpec Auth,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    IReadOnlyList<RestStreamSpec> StreamSpecs) : SourceSpec("rest")
{
    public override IReadOnlyList<string> Streams => [.. StreamSpecs.Select(s => s.Name)];

    /// <summary>The auth's credentials, a password in the base URL, and header values that carry credentials (<c>Authorization</c>, <c>X-Api-Token</c>, …).</summary>
    public override IEnumerable<string?> Secrets =>
        [.. Auth.Secrets, UserInfoPassword(BaseUrl), .. Headers.Where(h => IsCredentialHeader(h.Key)).Select(h => h.Value)];

    internal static bool IsCredentialHeader(string name) =>
        name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("Cookie", StringComparison.OrdinalIgnoreCase)
        || new[] { "key", "token", "secret", "password", "auth" }.Any(p => name.Contains(p, StringComparison.OrdinalIgnoreCase));

    public override string? QuotaKey => Auth.Secrets.FirstOrDefault() ?? BaseUrl;

    public override IReadOnlyList<string> PrimaryKey(string stream) => StreamSpecs.FirstOrDefault(s => s.Name == stream)?.PrimaryKey ?? [];

    /// <summary>The password of <c>https://user:password@host/</c>, a secret like any other.</summary>
    internal static string? UserInfoPassword(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && u.UserInfo.IndexOf(':', StringComparison.Ordinal) is var i and >= 0
            ? Uri.UnescapeDataString(u.UserInfo[(i + 1)..])
            : null;
}

/// <summary>One stream of a REST source. Field names (<see cref="Records"/>, keys, cursor, event time) are dot paths.</summary>
public sealed record RestStreamSpec(
    string Name,
    string Path,
    IReadOnlyList<KeyValuePair<string, string>> Params,
    string? Records,
    IReadOnlyList<string> PrimaryKey,
    PaginateSpec Paginate,
    IncrementalSpec? Incremental,
    TimeSpan Lookback,
    string? EventTime);

/// <summary>How a request proves who it is. Every credential is a secret (registered for redaction).</summary>
public abstract record RestAuthSpec
{
    public virtual IEnumerable<string> Secrets => [];

    public sealed record None : RestAuthSpec;

    /// <summary>An API key in a header (<see cref="Header"/>) or a query parameter (<see cref="Query"/>), exactly one of them.</summary>
    public sealed record ApiKey(string? Header, string? Query, string Key) : RestAuthSpec
    {
        public override IEnumerable<string> Secrets => [Key];
    }

    public sealed record Bearer(string Token) : RestAuthSpec
    {
        public override IEnumerable<string> Secrets => [Token];
    }

    public sealed record Basic(string Username, string Password) : RestAuthSpec
    {
        /// <summary>The password, and the header value that carries it (base64 of <c>user:password</c>).</summary>
        public override IEnumerable<string> Secrets => [Password, HeaderValue];

        public string HeaderValue => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Username}:{Password}"));
    }

    /// <summary>OAuth 2.0 client credentials grant (RFC 6749 §4.4); the client authenticates in the form body or with HTTP Basic.</summary>
    public sealed record OAuth2ClientCredentials(string TokenUrl, string ClientId, string ClientSecret, string? Scope, bool ClientAuthBasic) : RestAuthSpec
    {
        public override IEnumerable<string> Secrets => [ClientSecret];
    }
}

/// <summary>How a stream's pages follow each other (DESIGN §4.1 <c>paginate</c>).</summary>
public abstract record PaginateSpec
{
    public sealed record None : PaginateSpec;

    /// <summary><c>param=start, start+limit, …</c> with <c>limit_param=limit</c>; ends at an empty or short page, or at <see cref="TotalFrom"/>.</summary>
    public sealed record Offset(string Param, string LimitParam, int Limit, long Start, string? TotalFrom) : PaginateSpec;

    /// <summary><c>param=start, start+1, …</c> with <c>size_param=size</c>; ends at an empty or short page, or when <see cref="TotalFrom"/> records were read.</summary>
    public sealed record Page(string Param, long Start, string SizeParam, int Size, string? TotalFrom) : PaginateSpec;

    /// <summary>The next page's token is read from the body at <see cref="From"/> and sent as <see cref="Param"/>; ends when absent, null or empty.</summary>
    public sealed record Cursor(string From, string Param) : PaginateSpec;

    /// <summary>The next page is the RFC 8288 <c>Link: &lt;…&gt;; rel="next"</c> of the response.</summary>
    public sealed record LinkHeader : PaginateSpec;

    /// <summary>The next page's URL is read from the body at <see cref="From"/>; ends when absent, null or empty.</summary>
    public sealed record NextUrl(string From) : PaginateSpec;
}

public enum SinceFormat { Iso8601, EpochSeconds, EpochMilliseconds }

/// <summary>
/// <c>incremental: {cursor, param, format}</c>: the record field that orders versions (a time), the request parameter that
/// carries the lower bound (absent: the API has none, records are filtered client-side only), and the bound's format.
/// </summary>
public sealed record IncrementalSpec(string Cursor, string? Param, SinceFormat Format);

/// <summary>Reading a REST source's YAML section into <see cref="RestSourceSpec"/> (errors with <c>file:line:col</c>).</summary>
internal static class RestSpecReader
{
    public static RestAuthSpec Auth(ConfigSection? a)
    {
        if (a is null) return new RestAuthSpec.None();
        var ctx = a.Context;
        var type = a.Required("type");
        RestAuthSpec auth;
        switch (type.Value)
        {
            case "api_key":
            {
                var header = a.Optional("header");
                var query = a.Optional("query");
                if (header is not null && query is not null) throw ctx.Error(query.Value.Node, $"{a.Path}: give header or query, not both");
                auth = new RestAuthSpec.ApiKey(query is null ? header?.Value ?? "X-Api-Key" : null, query?.Value, a.Required("key").Value);
                break;
            }
            case "bearer":
                auth = new RestAuthSpec.Bearer(a.Required("token").Value);
                break;
            case "basic":
                auth = new RestAuthSpec.Basic(a.Required("username").Value, a.Optional("password")?.Value ?? "");
                break;
            case "oauth2_client_credentials":
            {
                var url = ctx.Url(a.Required("token_url"));
                if (url == PipelineLoader.BuiltinSimulator) throw ctx.Error(a.Node, $"{a.Path}.token_url: expected an http(s) URL");
                var clientAuth = a.Optional("client_auth");
                if (clientAuth is { Value: not ("body" or "basic") }) throw ctx.Error(clientAuth.Value.Node, $"{a.Path}.client_auth: '{clientAuth.Value.Value}' is not one of body, basic");
                auth = new RestAuthSpec.OAuth2ClientCredentials(url, a.Required("client_id").Value, a.Required("client_secret").Value, a.Optional("scope")?.Value,
                    clientAuth?.Value == "basic");
                break;
            }
            default:
                throw ctx.Error(type.Node, $"{a.Path}.type: '{type.Value}' is not one of api_key, bearer, basic, oauth2_client_credentials");
        }
        a.RejectUnknown();
        return auth;
    }

    /// <summary>A mapping of names to single values (<c>params</c>, <c>headers</c>), in file order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Pairs(ConfigSection? m)
    {
        if (m is null) return [];
        var list = new List<KeyValuePair<string, string>>();
        foreach (var (k, _) in m.Node.Children)
        {
            var name = ((YamlDotNet.RepresentationModel.YamlScalarNode)k).Value ?? "";
            list.Add(new(name, m.Optional(name)?.Value ?? ""));
        }
        m.RejectUnknown();
        return list;
    }

    public static PaginateSpec Paginate(ConfigSection? p)
    {
        if (p is null) return new PaginateSpec.None();
        var ctx = p.Context;
        var type = p.Optional("type")?.Value ?? "none";
        int Int(string key, int fallback) => p.Optional(key) is { } v ? (int)ctx.Long(v, 1, 1_000_000) : fallback;
        long Start(long fallback) => p.Optional("start") is { } v ? ctx.Long(v, 0) : fallback;
        PaginateSpec spec = type switch
        {
            "none" => new PaginateSpec.None(),
            "offset" => new PaginateSpec.Offset(p.Optional("param")?.Value ?? "offset", p.Optional("limit_param")?.Value ?? "limit", Int("limit", 100), Start(0),
                p.Optional("total_from")?.Value),
            "page" => new PaginateSpec.Page(p.Optional("param")?.Value ?? "page", Start(1), p.Optional("size_param")?.Value ?? "per_page", Int("size", 100),
                p.Optional("total_from")?.Value),
            "cursor" => new PaginateSpec.Cursor(p.Required("from").Value, p.Optional("param")?.Value ?? "cursor"),
            "link_header" => new PaginateSpec.LinkHeader(),
            "next_url" => new PaginateSpec.NextUrl(p.Required("from").Value),
            _ => throw p.ErrorAt("type", $"{p.Path}.type: '{type}' is not one of none, offset, page, cursor, link_header, next_url"),
        };
        p.RejectUnknown();
        return spec;
    }

    public static IncrementalSpec? Incremental(ConfigSection? i)
    {
        if (i is null) return null;
        var format = i.Optional("format") is { } f
            ? f.Value switch
            {
                "iso8601" => SinceFormat.Iso8601,
                "epoch_s" => SinceFormat.EpochSeconds,
                "epoch_ms" => SinceFormat.EpochMilliseconds,
                _ => throw i.Context.Error(f.Node, $"{i.Path}.format: '{f.Value}' is not one of iso8601, epoch_s, epoch_ms"),
            }
            : SinceFormat.Iso8601;
        var spec = new IncrementalSpec(i.Required("cursor").Value, i.Optional("param")?.Value, format);
        i.RejectUnknown();
        return spec;
    }
}
