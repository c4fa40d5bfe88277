using Ingot.Config;
using Ingot.Connectors;

namespace Ingot.Sources.Rest;

/// <summary><c>type: rest</c>: reads its section (DESIGN §4.1 "REST source") and creates a <see cref="RestSource"/>.</summary>
internal sealed class RestConnector : ISourceConnector
{
    public string Type => "rest";

    public SourceSpec Read(ConfigSection m)
    {
        var ctx = m.Context;
        var baseUrl = ctx.Url(m.Required("base_url"));
        var auth = RestSpecReader.Auth(m.OptionalMap("auth"));
        var headers = RestSpecReader.Pairs(m.OptionalMap("headers"));
        foreach (var (name, _) in headers)
        {
            if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) && auth is not RestAuthSpec.None)
                throw m.ErrorAt("headers", $"{m.Path}.headers: Authorization is set by auth:; give one of them");
        }
        var sections = m.OptionalSections("streams") ?? throw m.Error($"{m.Path}.streams: required key is missing (a list of streams, each with name and path)");
        if (sections.Count == 0) throw m.ErrorAt("streams", $"{m.Path}.streams: at least one stream is required");
        var streams = new List<RestStreamSpec>();
        foreach (var s in sections)
        {
            var stream = Stream(s, auth);
            if (streams.Any(x => x.Name == stream.Name)) throw s.ErrorAt("name", $"{s.Path}.name: a stream named '{stream.Name}' is already defined");
            streams.Add(stream);
        }
        m.RejectUnknown();
        return new RestSourceSpec(baseUrl, auth, headers, streams);
    }

    private static RestStreamSpec Stream(ConfigSection s, RestAuthSpec auth)
    {
        var ctx = s.Context;
        var name = s.Required("name");
        if (!System.Text.RegularExpressions.Regex.IsMatch(name.Value, "^[a-z0-9_-]+$")) throw ctx.Error(name.Node, $"{s.Path}.name: '{name.Value}' must match [a-z0-9_-]+");
        var path = s.Required("path");
        if (Uri.TryCreate(path.Value, UriKind.Absolute, out var abs) && abs.Scheme is "http" or "https")
            throw ctx.Error(path.Node, $"{s.Path}.path: give the path under base_url (e.g. /v1/payments), not a full URL");
        var parameters = RestSpecReader.Pairs(s.OptionalMap("params"));
        var records = s.Optional("records")?.Value;
        IReadOnlyList<string> primaryKey = s.Node.Children.TryGetValue(new YamlDotNet.RepresentationModel.YamlScalarNode("primary_key"), out var pk) && pk is YamlDotNet.RepresentationModel.YamlScalarNode
            ? [s.Required("primary_key").Value]
            : s.OptionalList("primary_key") ?? [];
        var paginate = RestSpecReader.Paginate(s.OptionalMap("paginate"));
        var incremental = RestSpecReader.Incremental(s.OptionalMap("incremental"));
        var lookback = TimeSpan.Zero;
        if (s.Optional("lookback") is { } lb)
        {
            if (incremental is null) throw ctx.Error(lb.Node, $"{s.Path}.lookback: only a stream with incremental: has a look-back");
            if (!Values.TryDuration(lb.Value, out lookback)) throw ctx.Error(lb.Node, $"{s.Path}.lookback: expected a duration like 5m or 1h, found '{lb.Value}'");
        }
        var eventTime = s.Optional("event_time")?.Value;
        s.RejectUnknown();

        // One name, one meaning per request: a parameter set twice would silently win or lose.
        var owned = new List<(string Param, string By)>();
        if (incremental?.Param is { } since) owned.Add((since, "incremental.param"));
        switch (paginate)
        {
            case PaginateSpec.Offset o: owned.Add((o.Param, "paginate.param")); owned.Add((o.LimitParam, "paginate.limit_param")); break;
            case PaginateSpec.Page p: owned.Add((p.Param, "paginate.param")); owned.Add((p.SizeParam, "paginate.size_param")); break;
            case PaginateSpec.Cursor c: owned.Add((c.Param, "paginate.param")); break;
        }
        if (auth is RestAuthSpec.ApiKey { Query: { } keyParam }) owned.Add((keyParam, "auth.query"));
        foreach (var group in owned.GroupBy(o => o.Param, StringComparer.Ordinal).Where(g => g.Count() > 1))
            throw s.Error($"{s.Path}: the query parameter '{group.Key}' is set by both {string.Join(" and ", group.Select(g => g.By))}");
        foreach (var (p, by) in owned)
        {
            if (parameters.Any(x => x.Key == p)) throw s.ErrorAt("params", $"{s.Path}.params: '{p}' is set by {by}; remove it from params");
        }
        return new RestStreamSpec(name.Value, path.Value, parameters, records, primaryKey, paginate, incremental, lookback, eventTime);
    }

    public ISource Create(SourceSpec spec, SourceServices services) => new RestSource((RestSourceSpec)spec, services.Http(spec), services.Time);
}
