// Signs a file with a private key reached through Java's SunPKCS11 provider.
// Usage: java P11Sign <sunpkcs11.cfg> <pin> <alias> <algorithm> <in> <sig-out>
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;

public final class P11Sign {
    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: P11Sign cfg pin alias algorithm in sig");
            System.exit(2);
        }
        Provider p = Security.getProvider("SunPKCS11").configure(args[0]);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, args[1].toCharArray());
        PrivateKey key = (PrivateKey) ks.getKey(args[2], null);
        if (key == null) {
            System.err.println("no private key with alias " + args[2]);
            System.exit(1);
        }
        Signature s = Signature.getInstance(args[3], p);
        s.initSign(key);
        s.update(Files.readAllBytes(Path.of(args[4])));
        Files.write(Path.of(args[5]), s.sign());
        // Verify in Java too, with the certificate's public key (software).
        Signature v = Signature.getInstance(args[3]);
        v.initVerify(ks.getCertificate(args[2]).getPublicKey());
        v.update(Files.readAllBytes(Path.of(args[4])));
        if (!v.verify(Files.readAllBytes(Path.of(args[5])))) {
            System.err.println("signature does not verify with the certificate's key");
            System.exit(1);
        }
        System.out.println("signed with " + key.getAlgorithm() + " key " + args[2] + " via " + p.getName());
    }
}
