using Ingot.Config;
using Ingot.Connectors;

namespace Ingot.Tests;

/// <summary>The pipeline loader with every connector of this build, as the CLI registers them.</summary>
internal static class TestPipelines
{
    public static ConnectorRegistry Connectors { get; } = ConnectorRegistry.Core
        .With(new Ingot.DuckDb.Parquet.ParquetConnector())
        .With(new Ingot.Postgres.Destination.PostgresDestinationConnector())
        .With(new Ingot.Postgres.Source.PostgresSourceConnector())
        .With(new Ingot.Iceberg.IcebergConnector())
        .With(new Ingot.S3.S3BlobStoreOpener());

    public static PipelineSpec Parse(string yaml, string file, Func<string, string?> environment) => PipelineLoader.Parse(yaml, file, environment, Connectors);

    public static PipelineSpec Load(string file, Func<string, string?> environment) => PipelineLoader.Load(file, environment, Connectors);
}
