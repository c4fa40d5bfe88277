using Ingot.Observability;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Ingot.Cli.Output;

/// <summary>
/// Exports Ingot's spans and metrics over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, with the SDK's standard
/// variables (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>_HEADERS</c>, <c>OTEL_SERVICE_NAME</c>, …). Without it nothing of
/// the SDK is loaded: a plain run pays nothing. Disposing flushes what is still buffered (the run's last metrics).
/// </summary>
internal static class OtlpExport
{
    public static IDisposable? Start(Func<string, string?> environment)
    {
        if (string.IsNullOrWhiteSpace(environment("OTEL_EXPORTER_OTLP_ENDPOINT"))) return null;
        return Providers.Create();
    }

    // A separate type so the OpenTelemetry assemblies load only when export is on.
    private sealed class Providers(TracerProvider tracer, MeterProvider meter) : IDisposable
    {
        public static Providers Create()
        {
            var version = typeof(IngotTelemetry).Assembly.GetName().Version?.ToString(3);
            var tracer = Sdk.CreateTracerProviderBuilder()
                .ConfigureResource(r => r.AddService("ingot", serviceVersion: version))
                .AddSource(IngotTelemetry.Name)
                .AddOtlpExporter()
                .Build();
            var meter = Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(r => r.AddService("ingot", serviceVersion: version))
                .AddMeter(IngotTelemetry.Name)
                .AddOtlpExporter()
                .Build();
            return new Providers(tracer, meter);
        }

        public void Dispose()
        {
            tracer.Dispose();
            meter.Dispose();
        }
    }
}
