using Ingot.S3;
using Ingot.Storage;

namespace Ingot.Tests.S3;

public sealed class S3SettingsTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Resolve_OptionsAndEnvironment_OptionsWin()
    {
        var env = Env(("AWS_ENDPOINT_URL", "http://env:1"), ("AWS_REGION", "eu-west-1"));

        var s = S3Settings.Resolve(new StoreOptions(Endpoint: "http://opt:2", Region: "eu-central-1", AccessKey: "AK", SecretKey: "SK"), env);

        s.Endpoint.ShouldBe("http://opt:2");
        s.Region.ShouldBe("eu-central-1");
        s.AccessKey.ShouldBe("AK");
        s.SecretKey.ShouldBe("SK");
    }

    [Fact]
    public void Resolve_OnlyEnvironment_ServiceSpecificEndpointAndAwsRegionFirst()
    {
        var env = Env(("AWS_ENDPOINT_URL", "http://generic:1"), ("AWS_ENDPOINT_URL_S3", "http://s3:1"),
            ("AWS_DEFAULT_REGION", "us-west-2"), ("AWS_REGION", "eu-west-1"));

        var s = S3Settings.Resolve(new StoreOptions(), env);

        s.Endpoint.ShouldBe("http://s3:1");
        s.Region.ShouldBe("eu-west-1");
        s.AccessKey.ShouldBeNull(); // the SDK default chain reads AWS_ACCESS_KEY_ID / profiles
    }

    [Fact]
    public void Resolve_FallbackVariables_AreUsed()
    {
        var s = S3Settings.Resolve(new StoreOptions(), Env(("AWS_ENDPOINT_URL", "http://generic:1"), ("AWS_DEFAULT_REGION", "us-west-2")));

        s.Endpoint.ShouldBe("http://generic:1");
        s.Region.ShouldBe("us-west-2");
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000", null, true)]
    [InlineData("http://127.0.0.1:9000", false, false)]
    [InlineData(null, null, false)]
    [InlineData(null, true, true)]
    public void Resolve_PathStyle_DefaultsToTrueOnlyWithCustomEndpoint(string? endpoint, bool? pathStyle, bool expected)
    {
        var s = S3Settings.Resolve(new StoreOptions(Endpoint: endpoint, PathStyle: pathStyle), Env());

        s.PathStyle.ShouldBe(expected);
        s.ToConfig().ForcePathStyle.ShouldBe(expected);
    }

    [Fact]
    public void ToConfig_CustomEndpointWithoutRegion_SignsForUsEast1()
    {
        var config = S3Settings.Resolve(new StoreOptions(Endpoint: "http://127.0.0.1:4568"), Env()).ToConfig();

        config.ServiceURL.ShouldStartWith("http://127.0.0.1:4568");
        config.AuthenticationRegion.ShouldBe("us-east-1");
    }

    [Fact]
    public void Resolve_AccessKeyWithoutSecret_Throws()
    {
        Should.Throw<Ingot.Config.ConfigException>(() => S3Settings.Resolve(new StoreOptions(AccessKey: "AK"), Env()));
    }

    [Fact]
    public void Resolve_RelativeEndpoint_Throws()
    {
        Should.Throw<Ingot.Config.ConfigException>(() => S3Settings.Resolve(new StoreOptions(Endpoint: "localhost"), Env()));
    }

    [Fact]
    public void ToString_WithKeys_ShowsNoKeys()
    {
        var s = S3Settings.Resolve(new StoreOptions(AccessKey: "AKIAEXAMPLE", SecretKey: "very-secret"), Env());

        s.ToString().ShouldNotContain("very-secret");
        s.ToString().ShouldNotContain("AKIAEXAMPLE");
    }
}
