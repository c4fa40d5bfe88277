using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Storage;

namespace Ingot.DuckDb.Parquet;

/// <summary><c>type: parquet</c>: Hive-partitioned Parquet under a folder or <c>s3://</c> prefix (DESIGN §4, §5).</summary>
public sealed record ParquetDestinationSpec(string Path, StoreOptions Store, IReadOnlyList<string> PartitionBy, string Compression, long TargetFileBytes)
    : StoreDestinationSpec(ParquetDestination.TypeName, Path, Store)
{
    /// <summary>The partition columns that are record fields, with where each is written.</summary>
    public IReadOnlyList<FieldRef> PartitionFields { get; init; } = [];

    public override IReadOnlyList<FieldRef> FieldRefs => PartitionFields;
}

/// <summary>Reads a <c>type: parquet</c> section and creates the destination.</summary>
public sealed class ParquetConnector : IDestinationConnector
{
    public string Type => ParquetDestination.TypeName;

    public DestinationSpec Read(ConfigSection m)
    {
        var path = m.Context.LocalPath(m.Required("path"));
        var partitionNodes = m.OptionalScalars("partition_by");
        var partitionBy = partitionNodes?.Select(p => p.Value).ToList()
            ?? [ParquetDestination.IngestionDatePartition, ParquetDestination.LoadTypePartition, ParquetDestination.EventDatePartition];
        // Partition columns other than the run's own (ingestion date, load type, event date) are record fields: checked before any request.
        var fieldRefs = (partitionNodes ?? [])
            .Where(p => p.Value is not (ParquetDestination.IngestionDatePartition or ParquetDestination.LoadTypePartition or ParquetDestination.EventDatePartition))
            .Select(p => new FieldRef(p.Value, "partition_by", m.Context.Where(p.Node)))
            .ToList();
        var compression = "zstd";
        if (m.Optional("compression") is { } comp)
        {
            if (comp.Value is not ("zstd" or "snappy" or "uncompressed")) throw m.Context.Error(comp.Node, "compression must be zstd, snappy or uncompressed");
            compression = comp.Value;
        }
        var targetBytes = m.Optional("target_file_size") is { } tfs ? m.Context.Bytes(tfs) : 128L << 20;
        var store = StoreSettings.Read(m);
        m.RejectUnknown();
        return new ParquetDestinationSpec(path, store, partitionBy, compression, targetBytes) { PartitionFields = fieldRefs };
    }

    public IDestination Create(DestinationSpec spec, DestinationServices services)
    {
        var p = (ParquetDestinationSpec)spec;
        return new ParquetDestination(p, services.Stores.Open(p.Path, p.Store), services.Pipeline.Name, spec.Name);
    }
}
