using Ingot.Storage;

namespace Ingot.S3;

/// <summary>Opens <c>s3://bucket/prefix</c> roots; registered by the composition root next to the local store.</summary>
internal sealed class S3BlobStoreOpener : IBlobStoreOpener
{
    public bool CanOpen(string root) => root is not null && S3Location.IsS3(root);

    public IBlobStore Open(string root, StoreOptions options) => new S3BlobStore(root, options ?? new StoreOptions());
}
