using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Storage;

namespace Ingot.DuckDb.Parquet;

/// <summary><c>type: parquet</c>: Hive-partitioned Parquet under a folder or <c>s3://</c> prefix (DESIGN §4, §5).</summary>
public sealed record ParquetDestinationSpec(string Path, StoreOptions Store, IReadOnlyList<string> PartitionBy, string Compression, long TargetFileBytes)
    : StoreDestinationSpec(ParquetDestination.TypeName, Path, Store);

/// <summary>Reads a <c>type: parquet</c> section and creates the destination.</summary>
public sealed class ParquetConnector : IDestinationConnector
{
    public string Type => ParquetDestination.TypeName;

    public DestinationSpec Read(ConfigSection m)
    {
        var path = m.Required("path").Value;
        var partitionBy = m.OptionalList("partition_by") ?? [ParquetDestination.IngestionDatePartition, ParquetDestination.LoadTypePartition, ParquetDestination.EventDatePartition];
        var compression = "zstd";
        if (m.Optional("compression") is { } comp)
        {
            if (comp.Value is not ("zstd" or "snappy" or "uncompressed")) throw m.Context.Error(comp.Node, "compression must be zstd, snappy or uncompressed");
            compression = comp.Value;
        }
        var targetBytes = m.Optional("target_file_size") is { } tfs ? m.Context.Bytes(tfs) : 128L << 20;
        var store = StoreSettings.Read(m);
        m.RejectUnknown();
        return new ParquetDestinationSpec(path, store, partitionBy, compression, targetBytes);
    }

    public IDestination Create(DestinationSpec spec, DestinationServices services)
    {
        var p = (ParquetDestinationSpec)spec;
        return new ParquetDestination(p, services.Stores.Open(p.Path, p.Store), services.Pipeline.Name, spec.Name);
    }
}
