using Ingot.DuckDb.Parquet;
using Ingot.Config;

namespace Ingot.Tests.Core.Config;

/// <summary>Failing tests that demonstrate loader bugs (see the report); kept apart so the lead can decide.</summary>
public sealed class PipelineLoaderRegressionTests
{
    private const string Head = "name: p\nsource:\n  type: knmi-edr\n  base_url: https://x.test\n  api_key: k\n  collection: c\n  stations: [s]\n  parameters: [T]\n  start: 2020-01-01\n  step: P1D\n";

    [Fact]
    public void Parse_ParquetPartitionByList_IsRead()
    {
        // Given: the shape DESIGN §4 documents
        var yaml = Head + "destinations:\n  - type: parquet\n    path: ./lake\n    partition_by: [ingestion_date, event_date]\n";

        // When
        var spec = TestPipelines.Parse(yaml, "p.yaml", _ => null);

        // Then
        ((ParquetDestinationSpec)spec.Destinations.Single()).PartitionBy.ShouldBe(["ingestion_date", "event_date"]);
    }

    [Fact]
    public void Parse_NoaaDatatypesList_IsRead()
    {
        // Given
        var yaml = "name: p\nsource:\n  type: noaa-cdo\n  base_url: https://x.test\n  token: t\n  dataset: PRECIP_15\n  stations: [COOP:010008]\n  datatypes: [QPCP, QGAG]\n  start: 2020-01-01\ndestinations:\n  - type: raw\n    path: ./lake\n";

        // When
        var spec = TestPipelines.Parse(yaml, "p.yaml", _ => null);

        // Then
        ((NoaaSourceSpec)spec.Source).Datatypes.ShouldBe(["QPCP", "QGAG"]);
    }

    [Fact]
    public void Parse_UnclosedFlowSequence_IsConfigError()
    {
        // Given
        var yaml = Head.Replace("  stations: [s]\n", "  stations: [s\n", StringComparison.Ordinal) + "destinations:\n  - type: raw\n    path: ./lake\n";

        // When / Then
        var e = Should.Throw<ConfigException>(() => TestPipelines.Parse(yaml, "p.yaml", _ => null));
        e.Detail!.ShouldStartWith("invalid YAML");
    }
}
