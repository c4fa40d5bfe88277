using Ingot.S3;
using Ingot.Storage;

namespace Ingot.Tests.S3;

public sealed class S3BlobStoreOpenerTests
{
    [Theory]
    [InlineData("s3://bronze/lake", true)]
    [InlineData("s3://bronze", true)]
    [InlineData("./lake", false)]
    [InlineData("/data/lake", false)]
    [InlineData("gs://bucket/x", false)]
    public void CanOpen_Root_OnlyS3Scheme(string root, bool expected)
    {
        new S3BlobStoreOpener().CanOpen(root).ShouldBe(expected);
    }

    [Fact]
    public void Open_S3Root_ReturnsS3StoreForBucketAndPrefix()
    {
        var stores = new BlobStores([new S3BlobStoreOpener()]);

        var store = stores.Open("s3://bronze/lake", new StoreOptions(Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"));

        var s3 = store.ShouldBeOfType<S3BlobStore>();
        s3.Root.ShouldBe("s3://bronze/lake");
        s3.Bucket.ShouldBe("bronze");
        s3.Prefix.ShouldBe("lake/");
        s3.Dispose();
    }
}
