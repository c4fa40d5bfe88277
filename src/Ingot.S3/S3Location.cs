namespace Ingot.S3;

/// <summary>A parsed <c>s3://bucket/prefix</c> root: the bucket and a key prefix that is empty or ends with '/'.</summary>
internal sealed record S3Location(string Bucket, string Prefix)
{
    public const string Scheme = "s3://";

    public static bool IsS3(string root) => root.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    public static S3Location Parse(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!IsS3(root)) throw new ArgumentException($"'{root}' is not an s3://bucket/prefix root", nameof(root));
        var rest = root[Scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        if (bucket.Length == 0) throw new ArgumentException($"'{root}' has no bucket (expected s3://bucket/prefix)", nameof(root));
        if (prefix.Contains("//", StringComparison.Ordinal) || prefix.Contains('\\', StringComparison.Ordinal))
            throw new ArgumentException($"'{root}' has an invalid prefix", nameof(root));
        return new S3Location(bucket, prefix.Length == 0 ? "" : prefix + "/");
    }

    /// <summary>The object key for a store-relative file path.</summary>
    public string KeyFor(string path) => Prefix + NormalizeFile(path);

    /// <summary>The key prefix for a store-relative folder; "" or null is the whole root. Like the local store, a prefix names a folder.</summary>
    public string FolderKey(string? folder)
    {
        var f = (folder ?? "").Trim('/');
        if (f.Length == 0) return Prefix;
        CheckSegments(f, folder!);
        return Prefix + f + "/";
    }

    /// <summary>The store-relative path of a key under this root.</summary>
    public string RelativePath(string key) => key[Prefix.Length..];

    private static string NormalizeFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var p = path.TrimStart('/');
        if (p.Length == 0 || p.EndsWith('/')) throw new ArgumentException($"'{path}' is not a file path", nameof(path));
        CheckSegments(p, path);
        return p;
    }

    private static void CheckSegments(string p, string original)
    {
        if (p.Contains('\\', StringComparison.Ordinal))
            throw new ArgumentException($"'{original}' must use '/' as separator", nameof(original));
        foreach (var segment in p.Split('/'))
        {
            if (segment is "" or "." or "..")
                throw new ArgumentException($"'{original}' has an empty, '.' or '..' segment", nameof(original));
        }
    }
}
