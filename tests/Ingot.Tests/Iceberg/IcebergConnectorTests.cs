using Ingot.Config;
using Ingot.Iceberg;
using Ingot.Iceberg.Catalog;

namespace Ingot.Tests.Iceberg;

/// <summary>The <c>type: iceberg</c> section: defaults, catalogs, partition transforms, and errors at <c>file:line:col</c>.</summary>
public sealed class IcebergConnectorTests
{
    private const string File = "/p/iceberg.yaml";

    private static string Yaml(params string[] destination) => string.Join('\n', new[]
    {
        "name: ice",                                // 1
        "source:",                                  // 2
        "  type: noaa-cdo",                         // 3
        "  base_url: https://example.test/cdo",     // 4
        "  token: tok",                             // 5
        "  dataset: PRECIP_15",                     // 6
        "  stations: [COOP:010008]",                // 7
        "  start: 2020-01-01T00:00:00Z",            // 8
        "destinations:",                            // 9
        "  - type: iceberg",                        // 10
    }.Concat(destination)) + "\n";

    private static IcebergDestinationSpec Parse(params string[] destination) =>
        (IcebergDestinationSpec)TestPipelines.Parse(Yaml(destination), File, _ => null).Destinations[0];

    private static ConfigException Fails(params string[] destination) =>
        Should.Throw<ConfigException>(() => TestPipelines.Parse(Yaml(destination), File, _ => null));

    [Fact]
    public void Read_WarehouseOnly_DefaultsAsTheDesignSays()
    {
        var spec = Parse("    warehouse: /data/wh");

        spec.Catalog.ShouldBe(new CatalogSpec(CatalogKind.Sqlite, "/data/wh/catalog.db"));
        (spec.CatalogName, spec.Namespace, spec.Table).ShouldBe(("ingot", "bronze", "{pipeline}_{stream}"));
        spec.PartitionBy.ShouldBeEmpty();
        spec.TargetFileBytes.ShouldBe(128L << 20);
        spec.Lake.ShouldBeNull("the quarantine does not go into a table's folder");
    }

    [Fact]
    public void Read_PostgresCatalogAndTransforms_ParsedAndThePasswordIsASecret()
    {
        var spec = Parse("    warehouse: /data/wh", "    catalog: postgres://ingot:s3cret@db.example:5433/lake", "    partition_by: [day(_event_ts), identity(station)]", "    target_file_size: 64MB");

        spec.Catalog.Kind.ShouldBe(CatalogKind.Postgres);
        spec.Catalog.Describe.ShouldNotContain("s3cret");
        spec.Secrets.ShouldContain("s3cret");
        spec.PartitionBy.Select(p => p.ToString()).ShouldBe(["day(_event_ts)", "identity(station)"]);
        spec.PartitionBy.Select(p => p.Name).ShouldBe(["_event_ts_day", "station"]);
        spec.TargetFileBytes.ShouldBe(64L << 20);
    }

    [Fact]
    public void Read_TimeTransformOfARecordField_IsAnErrorAtTheEntry()
    {
        var e = Fails("    warehouse: /data/wh", "    partition_by: [identity(station), day(date)]");

        (e.Line, e.Column).ShouldBe((12L, 39L));
        e.Message.ShouldContain("needs a timestamp column");
    }

    [Fact]
    public void Read_UnknownTransformOrKey_IsAnError()
    {
        Fails("    warehouse: /data/wh", "    partition_by: [bucket(station)]").Message.ShouldContain("not a supported partition transform");
        var e = Fails("    warehouse: /data/wh", "    partiton_by: [day(_event_ts)]");
        (e.Line, e.Column).ShouldBe((12L, 5L));
        e.Message.ShouldContain("unknown key");
    }

    [Fact]
    public void Read_S3WarehouseWithoutCatalog_IsAnError()
    {
        Fails("    warehouse: s3://bucket/wh").Message.ShouldContain("catalog: required");
    }
}
