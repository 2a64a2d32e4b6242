# Installation of what is not a build target: the systemd unit, the p11-kit
# module file, the default configuration files and the manual pages.
#
#   cmake --install build --prefix P        (DESTDIR is honoured as usual)
#
#   P/bin/tessera, P/bin/tessera-tpm, P/sbin/tesserad     (their own folders)
#   P/<libdir>/pkcs11/libtessera-pkcs11.so                (src/pkcs11)
#   P/<datadir>/p11-kit/modules/tessera.module
#   P/lib/systemd/system/tesserad.service
#   <sysconfdir>/tessera/tesserad.conf, tessera.conf
#   P/<mandir>/man1/tessera.1, man5/tessera.conf.5, man8/tesserad.8
#
# The unit and the module file name absolute paths, and `cmake --install
# --prefix P` chooses the prefix after configuration, so they are written at
# install time by install_dist.cmake (configured below with the relative
# GNUInstallDirs folders; it reads the install-time CMAKE_INSTALL_PREFIX).

install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tessera.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tessera.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tesserad.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# systemd looks for system units in /usr/lib/systemd/system (and /lib on
# older layouts); under another prefix the unit is installed beside the rest
# and must be linked or copied into /etc/systemd/system by hand.
set(TESSERA_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Folder of the systemd unit, relative to the prefix or absolute")

configure_file(${CMAKE_CURRENT_LIST_DIR}/install_dist.cmake.in
               ${PROJECT_BINARY_DIR}/cmake/install_dist.cmake @ONLY)
install(SCRIPT ${PROJECT_BINARY_DIR}/cmake/install_dist.cmake)

# The folders above, for tests/integration/install.sh (sourced by bash):
# it installs into a temporary prefix and checks each file is where these say.
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/install_dirs.sh @ONLY CONTENT
"# Written by cmake/install.cmake: the install folders of this build.
TESSERA_INSTALL_BINDIR='@CMAKE_INSTALL_BINDIR@'
TESSERA_INSTALL_SBINDIR='@CMAKE_INSTALL_SBINDIR@'
TESSERA_INSTALL_LIBDIR='@CMAKE_INSTALL_LIBDIR@'
TESSERA_INSTALL_DATADIR='@CMAKE_INSTALL_DATADIR@'
TESSERA_INSTALL_SYSCONFDIR='@CMAKE_INSTALL_SYSCONFDIR@'
TESSERA_INSTALL_MANDIR='@CMAKE_INSTALL_MANDIR@'
TESSERA_INSTALL_UNITDIR='@TESSERA_SYSTEMD_UNITDIR@'
")
