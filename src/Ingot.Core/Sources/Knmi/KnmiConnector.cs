using Ingot.Config;
using Ingot.Connectors;

namespace Ingot.Sources.Knmi;

/// <summary><c>type: knmi-edr</c>: reads its section (DESIGN §4) and creates a <see cref="KnmiSource"/>.</summary>
internal sealed class KnmiConnector : ISourceConnector
{
    public string Type => "knmi-edr";

    public SourceSpec Read(ConfigSection m)
    {
        var ctx = m.Context;
        var baseUrl = ctx.Url(m.Required("base_url"));
        var apiKey = m.Required("api_key");
        var collection = m.Required("collection").Value;
        var stations = m.RequiredList("stations");
        var parameters = m.RequiredList("parameters");
        var start = ctx.Instant(m.Required("start"));
        var end = m.Optional("end") is { } e ? ctx.Instant(e) : (DateTimeOffset?)null;
        if (end is not null && end <= start) throw ctx.Error(m.Optional("end")!.Value.Node, "end must be after start");
        var stepNode = m.Required("step");
        if (!Values.TryPeriod(stepNode.Value, out var step) || step.Months != 0)
            throw ctx.Error(stepNode.Node, $"step: '{stepNode.Value}' is not a time step like P1D, PT1H or PT10M");
        var maxPoints = m.Optional("max_data_points") is { } mp ? ctx.Long(mp, 1) : 300_000;
        m.RejectUnknown();
        return new KnmiSourceSpec(baseUrl, apiKey.Value, collection, stations, parameters, start, end, step.Duration, maxPoints);
    }

    public ISource Create(SourceSpec spec, SourceServices services) => new KnmiSource((KnmiSourceSpec)spec, services.Http(spec), services.Time);
}
