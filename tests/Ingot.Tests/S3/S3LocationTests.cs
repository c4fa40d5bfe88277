using Ingot.S3;

namespace Ingot.Tests.S3;

public sealed class S3LocationTests
{
    [Theory]
    [InlineData("s3://bronze", "bronze", "")]
    [InlineData("s3://bronze/", "bronze", "")]
    [InlineData("s3://bronze/lake", "bronze", "lake/")]
    [InlineData("s3://bronze/lake/sub/", "bronze", "lake/sub/")]
    [InlineData("S3://bronze/lake", "bronze", "lake/")]
    public void Parse_Root_SplitsBucketAndPrefix(string root, string bucket, string prefix)
    {
        var location = S3Location.Parse(root);

        location.Bucket.ShouldBe(bucket);
        location.Prefix.ShouldBe(prefix);
    }

    [Theory]
    [InlineData("s3://")]
    [InlineData("s3:///lake")]
    [InlineData("./lake")]
    [InlineData("s3://b/a//c")]
    public void Parse_InvalidRoot_Throws(string root)
    {
        Should.Throw<ArgumentException>(() => S3Location.Parse(root));
    }

    [Fact]
    public void KeyFor_Path_PrefixesAndRelativePathInverts()
    {
        var location = S3Location.Parse("s3://b/lake");

        var key = location.KeyFor("p/raw/2024/c.json");

        key.ShouldBe("lake/p/raw/2024/c.json");
        location.RelativePath(key).ShouldBe("p/raw/2024/c.json");
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/./b")]
    [InlineData("a//b")]
    [InlineData("a\\b")]
    [InlineData("dir/")]
    [InlineData("")]
    public void KeyFor_UnsafePath_Throws(string path)
    {
        Should.Throw<ArgumentException>(() => S3Location.Parse("s3://b/lake").KeyFor(path));
    }

    [Theory]
    [InlineData("", "lake/")]
    [InlineData("/", "lake/")]
    [InlineData("p", "lake/p/")]
    [InlineData("p/raw/", "lake/p/raw/")]
    public void FolderKey_Prefix_IsAFolderUnderTheRoot(string folder, string expected)
    {
        S3Location.Parse("s3://b/lake").FolderKey(folder).ShouldBe(expected);
    }
}
