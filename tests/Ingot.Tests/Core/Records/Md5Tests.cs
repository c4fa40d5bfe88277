using System.Text;
using Ingot.Records;

namespace Ingot.Tests.Core.Records;

public sealed class Md5Tests
{
    [Theory]
    [InlineData("", "d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("a", "0cc175b9c0f1b6a831c399e269772661")]
    [InlineData("abc", "900150983cd24fb0d6963f7d28e17f72")]
    [InlineData("message digest", "f96b697d7cb7938d525a2f31aaf161d0")]
    [InlineData("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a")]
    public void HashHexUtf8_Rfc1321TestSuite_MatchesTheRfc(string input, string expected)
    {
        // Given
        var hex = new byte[32];

        // When
        Md5.HashHexUtf8(Encoding.ASCII.GetBytes(input), hex);

        // Then
        Encoding.ASCII.GetString(hex).ShouldBe(expected);
    }

    [Fact]
    public void HashData_EveryLengthAcrossThreeBlocks_MatchesThePlatform()
    {
        // Given: lengths 0..200 cover the one- and two-block tails (55/56/63/64/119/120 bytes)
        var random = new Random(7);
        var mine = new byte[16];
        for (var length = 0; length <= 200; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);

            // When
            Md5.HashData(data, mine);

            // Then
            mine.ShouldBe(System.Security.Cryptography.MD5.HashData(data), $"length {length}");
        }
    }
}
