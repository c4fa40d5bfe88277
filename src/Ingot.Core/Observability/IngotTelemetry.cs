using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Ingot.Observability;

/// <summary>
/// Ingot's one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named <c>Ingot</c> (STYLE.md 10, as
/// Npgsql's <c>MetricsReporter</c>): OTel-style instrument names and UCUM units. Nothing is recorded unless a listener
/// (the OpenTelemetry SDK when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, a test's <c>MeterListener</c>) subscribes, so
/// a plain run pays one branch per measurement.
/// </summary>
public static class IngotTelemetry
{
    public const string Name = "Ingot";

    private static readonly string Version = typeof(IngotTelemetry).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public static readonly ActivitySource Source = new(Name, Version);

    public static readonly Meter Meter = new(Name, Version);

    /// <summary>HTTP request attempts sent to a source API (each retry counts). Tags: <c>ingot.pipeline</c>.</summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("ingot.requests", "{request}", "HTTP request attempts sent to source APIs");

    /// <summary>Retries after a transient failure. Tags: <c>ingot.pipeline</c>, <c>http.response.status_code</c> when there was one.</summary>
    public static readonly Counter<long> Retries = Meter.CreateCounter<long>("ingot.retries", "{retry}", "Request attempts repeated after a transient failure");

    /// <summary>Records of committed units. Tags: <c>ingot.pipeline</c>, <c>ingot.stream</c>, <c>ingot.outcome</c> (landed | quarantined).</summary>
    public static readonly Counter<long> Records = Meter.CreateCounter<long>("ingot.records", "{record}", "Records of committed units of work");

    /// <summary>Time from a unit's first request to its commit (or failure). Tags: <c>ingot.pipeline</c>, <c>ingot.stream</c>, <c>ingot.outcome</c> (done | failed).</summary>
    public static readonly Histogram<double> UnitDuration = Meter.CreateHistogram<double>("ingot.unit.duration", "s", "Duration of a unit of work from fetch start to commit");

    public const string PipelineTag = "ingot.pipeline";
    public const string StreamTag = "ingot.stream";
    public const string OutcomeTag = "ingot.outcome";
    public const string UnitTag = "ingot.unit.key";
    public const string RunTag = "ingot.run.id";
}
