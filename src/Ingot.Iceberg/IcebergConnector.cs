using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Iceberg.Catalog;
using Ingot.Iceberg.Table;
using Ingot.Storage;

namespace Ingot.Iceberg;

/// <summary>
/// <c>type: iceberg</c> (DESIGN §4.2): <c>warehouse</c>, <c>catalog</c> (default <c>sqlite:///&lt;warehouse&gt;/catalog.db</c>),
/// <c>catalog_name</c>, <c>namespace</c>, <c>table</c> (<c>{pipeline}</c>, <c>{source}</c>, <c>{stream}</c> replaced),
/// <c>partition_by</c> and <c>target_file_size</c>, plus the store keys of every file destination.
/// </summary>
public sealed record IcebergDestinationSpec(
    string Warehouse,
    StoreOptions Store,
    CatalogSpec Catalog,
    string CatalogName,
    string Namespace,
    string Table,
    IReadOnlyList<PartitionTransform> PartitionBy,
    long TargetFileBytes) : StoreDestinationSpec(IcebergDestination.TypeName, Warehouse, Store)
{
    public override IEnumerable<string?> Secrets => [.. base.Secrets, Catalog.Password];

    /// <summary>The Iceberg warehouse is a table format's own layout: the quarantine does not go there.</summary>
    public override (string Path, StoreOptions Store)? Lake => null;

    /// <summary>An aggregate's result table is one more table in the same catalog and warehouse.</summary>
    public override bool HoldsAggregates => true;
}

/// <summary>Reads a <c>type: iceberg</c> section and creates the destination.</summary>
public sealed class IcebergConnector : IDestinationConnector
{
    public string Type => IcebergDestination.TypeName;

    public DestinationSpec Read(ConfigSection m)
    {
        var warehouse = m.Required("warehouse");
        var catalogValue = m.Optional("catalog");
        CatalogSpec catalog;
        try
        {
            catalog = catalogValue is { } c ? CatalogSpec.Parse(c.Value) : CatalogSpec.DefaultFor(warehouse.Value);
        }
        catch (FormatException e)
        {
            throw m.Context.Error(catalogValue?.Node ?? warehouse.Node, $"{m.Path}.catalog: {e.Message}");
        }
        var catalogName = Name(m, "catalog_name", "ingot");
        var ns = Name(m, "namespace", "bronze");
        var table = m.Optional("table")?.Value ?? "{pipeline}_{stream}";
        var partitionBy = new List<PartitionTransform>();
        if (m.OptionalSequence("partition_by") is { } seq)
        {
            foreach (var item in seq.Children)
            {
                var text = m.Context.Scalar(item, $"{m.Path}.partition_by").Value;
                try
                {
                    partitionBy.Add(PartitionTransform.Parse(text));
                }
                catch (FormatException e)
                {
                    throw m.Context.Error(item, $"{m.Path}.partition_by: {e.Message}");
                }
            }
            var dup = partitionBy.GroupBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (dup is not null) throw m.Context.Error(seq, $"{m.Path}.partition_by: the partition field '{dup.Key}' is listed twice");
        }
        var target = m.Optional("target_file_size") is { } tfs ? m.Context.Bytes(tfs) : 128L << 20;
        if (target < 1 << 20) throw m.ErrorAt("target_file_size", $"{m.Path}.target_file_size: at least 1MB");
        var store = StoreSettings.Read(m);
        m.RejectUnknown();
        if (warehouse.Value.Contains("://", StringComparison.Ordinal) && catalogValue is null)
            throw m.Context.Error(warehouse.Node, $"{m.Path}.catalog: required when the warehouse is not a local folder (a SQLite file needs a local disk; give sqlite:///path or a PostgreSQL connection string)");
        return new IcebergDestinationSpec(warehouse.Value, store, catalog, catalogName, ns, table, partitionBy, target);
    }

    private static string Name(ConfigSection m, string key, string fallback)
    {
        if (m.Optional(key) is not { } v) return fallback;
        if (v.Value.Length == 0 || v.Value.Length > 255 || v.Value.AsSpan().IndexOfAny('/', '\\', '\0') >= 0 || v.Value is "." or "..")
            throw m.Context.Error(v.Node, $"{m.Path}.{key}: '{v.Value}' is not a usable name (1 to 255 characters, no slashes)");
        return v.Value;
    }

    public IDestination Create(DestinationSpec spec, DestinationServices services)
    {
        var s = (IcebergDestinationSpec)spec;
        return new IcebergDestination(s, services.Stores.Open(s.Warehouse, s.Store), services.Pipeline, services.Time, spec.Name);
    }
}
