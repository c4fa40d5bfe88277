using Ingot.Config;
using Ingot.Connectors;

namespace Ingot.Sources.Noaa;

/// <summary><c>type: noaa-cdo</c>: reads its section (DESIGN §4) and creates a <see cref="NoaaSource"/>.</summary>
internal sealed class NoaaConnector : ISourceConnector
{
    public string Type => "noaa-cdo";

    public SourceSpec Read(ConfigSection m)
    {
        var ctx = m.Context;
        var baseUrl = ctx.Url(m.Required("base_url"));
        var token = m.Required("token").Value;
        var dataset = m.Required("dataset").Value;
        var stations = m.RequiredList("stations");
        var datatypes = m.OptionalList("datatypes") ?? [];
        var units = m.Optional("units")?.Value;
        if (units is not null and not ("standard" or "metric")) throw ctx.Error(m.Optional("units")!.Value.Node, "units must be standard or metric");
        var start = ctx.Instant(m.Required("start"));
        var end = m.Optional("end") is { } e ? ctx.Instant(e) : (DateTimeOffset?)null;
        var window = new IsoPeriod(1, TimeSpan.Zero, "P1M");
        if (m.Optional("window") is { } w)
        {
            if (!Values.TryPeriod(w.Value, out window)) throw ctx.Error(w.Node, $"window: '{w.Value}' is not an ISO-8601 period like P1M or P7D");
            var probe = new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero);
            if (window.AddTo(probe) >= probe.AddYears(1)) throw ctx.Error(w.Node, "window must be under one year (NOAA rejects a range of a year or more)");
        }
        var pageSize = m.Optional("page_size") is { } ps ? (int)ctx.Long(ps, 1, 1000) : 1000;
        var perRequest = m.Optional("stations_per_request") is { } spr ? (int)ctx.Long(spr, 1, 100) : 10;
        m.RejectUnknown();
        return new NoaaSourceSpec(baseUrl, token, dataset, stations, datatypes, units, start, end, window, pageSize, perRequest);
    }

    public ISource Create(SourceSpec spec, SourceServices services) => new NoaaSource((NoaaSourceSpec)spec, services.Http(spec), services.Time);
}
