using Ingot.Iceberg.Table;

namespace Ingot.Iceberg;

/// <summary>
/// One stream's table as this destination knows it: where it lives, the metadata last loaded from the catalog, and the
/// schema the staged files were written with (the committed schema plus columns staged units added, each with its new
/// field id). The partition spec is resolved against the schema when the first unit brings its source columns.
/// </summary>
internal sealed class TableState(string stream, string name, string relativeRoot, string location)
{
    public string Stream { get; } = stream;

    /// <summary>The table name in the catalog (<c>{pipeline}_{stream}</c> by default).</summary>
    public string Name { get; } = name;

    /// <summary>The table's folder relative to the warehouse store: <c>&lt;namespace&gt;/&lt;table&gt;</c>.</summary>
    public string RelativeRoot { get; } = relativeRoot;

    /// <summary>The table's location as metadata writes it: an absolute URI (<c>file:///…</c>, <c>s3://…</c>).</summary>
    public string Location { get; } = location;

    /// <summary>Held while staging reconciles the schema and while a commit runs.</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);

    public bool Loaded { get; set; }

    public string? MetadataLocation { get; set; }

    public TableMetadata? Metadata { get; set; }

    public IcebergSchema Schema { get; set; } = new(0, []);

    public int LastColumnId { get; set; }

    /// <summary>Null until resolved (a new table whose source columns no unit has brought yet).</summary>
    public IReadOnlyList<PartitionField>? Spec { get; set; }

    public void Adopt(string? location, TableMetadata? metadata)
    {
        MetadataLocation = location;
        Metadata = metadata;
        Loaded = true;
        if (metadata is null) return;
        // Keep columns staged but not yet committed; the table's own columns come first.
        var committed = metadata.CurrentSchema;
        var staged = Schema.Fields.Where(f => committed.Field(f.Name) is null && f.Id > metadata.LastColumnId).ToList();
        Schema = committed with { Fields = [.. committed.Fields, .. staged] };
        LastColumnId = Math.Max(metadata.LastColumnId, LastColumnId);
        Spec ??= metadata.DefaultSpec;
    }
}
